/**
 * The error a kubeconfig that cannot be loaded or used raises. Apart from kube/client.ts so that
 * the CLI's error reporting (commands/command-error.ts) can recognise it without loading
 * @kubernetes/client-node, which every command, `--help` included, would otherwise pay for.
 */
export class KubeConfigError extends Error {
  readonly code = "PF_ERR_KUBECONFIG";
}
