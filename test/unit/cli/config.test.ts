import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COMMAND_SPECS, COMMANDS } from "../../../src/commands/command-specs.ts";
import { commandHelp, rootHelp } from "../../../src/commands/help.ts";
import { type Config, ConfigError, parseConfig } from "../../../src/config.ts";

const ENV = { POD_NAME: "pod-0" };

function parse(args: string): Config {
  return parseConfig(
    args.split(" ").filter((a) => a !== ""),
    ENV,
  );
}

function refused(args: string, message: RegExp): void {
  assert.throws(
    () => parse(args),
    (error: unknown) => error instanceof ConfigError && message.test(error.message) && !error.message.includes("\n"),
  );
}

describe("parseConfig: help and version", () => {
  for (const args of ["", "--help", "-h", "help"]) {
    it(`"${args}" asks for the command list`, () => assert.deepEqual(parse(args), { command: "help", topic: undefined }));
  }
  for (const command of COMMANDS.filter((c) => c !== "help")) {
    it(`${command} --help, ${command} -h and help ${command} ask for its help`, () => {
      for (const args of [`${command} --help`, `${command} -h`, `help ${command}`])
        assert.deepEqual(parse(args), { command: "help", topic: command });
    });
  }
  it("version and --version print the versions; -o json as JSON", () => {
    assert.deepEqual(parse("version"), { command: "version", output: "" });
    assert.deepEqual(parse("--version"), { command: "version", output: "" });
    assert.deepEqual(parse("version -o json"), { command: "version", output: "json" });
    refused("version -o yaml", /--output must be '' or json/);
  });
});

describe("parseConfig: each command takes only its own flags", () => {
  it("refuses a flag of another command, naming it and the help to read", () => {
    refused("gateway --leader-elect", /unknown flag --leader-elect for "tunnelkeeper gateway"; see 'tunnelkeeper gateway --help'/);
    refused("controller --listen-host 0.0.0.0", /unknown flag --listen-host for "tunnelkeeper controller"/);
    refused("forward pod/x 80 --drain-timeout 1s", /unknown flag --drain-timeout/);
    refused("run -x", /unknown flag -x/);
  });
  it("refuses unknown commands, stray arguments and flags without values", () => {
    refused("frob", /unknown command "frob" for "tunnelkeeper"/);
    refused("--frob", /unknown flag --frob/);
    refused("help frob", /unknown command "frob"/);
    refused("controller extra", /takes no arguments, got "extra"/);
    refused("gateway --kubeconfig", /flag needs an argument: --kubeconfig/);
  });
  it("refuses bad values with what is allowed", () => {
    refused("run --log-level loud", /--log-level must be one of error, warn, info, debug, got "loud"/);
    refused("run --log-format yaml", /--log-format must be json or text/);
    refused("gateway --drain-timeout soon", /--drain-timeout: "soon" is not a duration/);
    refused("controller --gateway-port-range 9-1", /--gateway-port-range must be MIN-MAX/);
    refused("controller --gateways-per-portforward two", /--gateways-per-portforward must be a whole number \(0 for no limit\), got "two"/);
    refused("controller --gateways-per-portforward -1", /--gateways-per-portforward must be a whole number/);
    refused("gateway --idle-tunnel-timeout later", /--idle-tunnel-timeout: "later" is not a duration/);
    refused("run --leader-elect=maybe", /unknown flag --leader-elect/);
    refused("controller --leader-elect=maybe", /--leader-elect is a boolean flag/);
    refused("forward pod/x 80 --address example.com", /--address takes IP addresses or localhost, got "example.com"/);
    refused("forward pod/x 80 --pod-running-timeout 0s", /--pod-running-timeout must be higher than zero/);
    refused("forward pod/x 80 --protocol SPDY", /--protocol must be Auto, Tunnel or Legacy/);
    refused("forward", /TYPE\/NAME is required/);
    refused("forward pod/x", /at least one port is required/);
    refused("forward -f dir pod/x 80", /with -f, tunnelkeeper forward takes no TYPE\/NAME/);
  });
  it("names the kubectl plugin in messages when run as one", () => {
    assert.throws(
      () => parseConfig(["gateway", "--nope"], ENV, { program: "kubectl tunnelkeeper" }),
      /see 'kubectl tunnelkeeper gateway --help'/,
    );
  });
});

describe("parseConfig: values", () => {
  it("gives controller and gateway JSON logs and run and forward the terminal's choice", () => {
    const formats = ["controller", "gateway", "run", "forward pod/x 80"].map((args) => {
      const config = parse(args);
      return "common" in config ? config.common.logFormat : undefined;
    });
    assert.deepEqual(formats, ["json", "json", "auto", "auto"]);
    const explicit = parse("run --log-format json");
    assert.equal(explicit.command === "run" && explicit.common.logFormat, "json");
  });
  it("sets the gateway namespace with --gateway-namespace, else POD_NAMESPACE, else tunnelkeeper-system", () => {
    const flag = parseConfig(["gateway", "--gateway-namespace", "ops"], { POD_NAMESPACE: "pods" });
    assert.equal(flag.command === "gateway" && flag.gateway.podNamespace, "ops");
    const env = parseConfig(["run"], { POD_NAMESPACE: "pods" });
    assert.ok(env.command === "run");
    assert.equal(env.gateway.podNamespace, "pods");
    assert.equal(env.controller.gatewayNamespace, "pods");
    const none = parseConfig(["controller"], {});
    assert.equal(none.command === "controller" && none.controller.gatewayNamespace, "tunnelkeeper-system");
  });
  it("collects -n from repeats and commas; accepts booleans as --flag and --flag=false", () => {
    const config = parse("controller -n a,b --namespace=c -nd --leader-elect=false");
    assert.ok(config.command === "controller");
    assert.deepEqual(config.common.namespaces, ["a", "b", "c", "d"]);
    assert.equal(config.controller.leaderElect, false);
    const elected = parse("controller --leader-elect");
    assert.equal(elected.command === "controller" && elected.controller.leaderElect, true);
  });
  it("takes the kubeconfig from --kubeconfig, else KUBECONFIG (a list stays a list)", () => {
    const flag = parseConfig(["run", "--kubeconfig", "/a"], { KUBECONFIG: "/b:/c" });
    assert.equal(flag.command === "run" && flag.common.kubeconfigPath, "/a");
    const env = parseConfig(["run"], { KUBECONFIG: "/b:/c" });
    assert.equal(env.command === "run" && env.common.kubeconfigPath, "/b:/c");
    const none = parseConfig(["run"], {});
    assert.equal(none.command === "run" && none.common.kubeconfigPath, undefined);
  });
  it("gives forward kubectl's defaults: localhost is 127.0.0.1 and ::1, a one-minute pod wait", () => {
    const config = parse("forward web 8080:80 :90 -n shop");
    assert.ok(config.command === "forward");
    assert.deepEqual(config.forward, {
      target: "web",
      ports: ["8080:80", ":90"],
      files: [],
      namespace: "shop",
      addresses: ["127.0.0.1", "::1"],
      addressesFromLocalhost: true,
      podRunningTimeoutMs: 60_000,
      protocol: "Auto",
      portOffset: 0,
    });
    const listed = parse("forward svc/db 5432 --address 0.0.0.0,localhost --address ::1 --pod-running-timeout 5s");
    assert.ok(listed.command === "forward");
    assert.deepEqual(listed.forward.addresses, ["0.0.0.0", "127.0.0.1", "::1"]);
    assert.equal(listed.forward.podRunningTimeoutMs, 5000);
    const files = parse("forward -f a.yaml -f dir --port-offset 10000");
    assert.ok(files.command === "forward");
    assert.deepEqual([files.forward.files, files.forward.portOffset, files.forward.target], [["a.yaml", "dir"], 10000, undefined]);
  });
});

describe("help", () => {
  for (const command of COMMANDS) {
    it(`${command}: description, an example, every flag with its default, and the usage line`, () => {
      const text = commandHelp(command, "tunnelkeeper");
      const spec = COMMAND_SPECS[command];
      assert.ok(text.startsWith(spec.description.split("\n")[0]!));
      assert.match(text, /\nExamples:\n {2}# .+\n {2}tunnelkeeper /);
      for (const flag of spec.flags)
        assert.ok(text.includes(`--${flag.name}=${flag.default}:`), `--${flag.name} missing from ${command}'s help`);
      assert.match(text, new RegExp(`\\nUsage:\\n {2}tunnelkeeper ${command} `));
    });
  }
  it("lists every command in the root help, under the program name it was called by", () => {
    const text = rootHelp("kubectl tunnelkeeper");
    for (const command of COMMANDS) assert.match(text, new RegExp(`\\n {2}${command} +\\S`));
    assert.match(text, /Use "kubectl tunnelkeeper <command> --help"/);
  });
});

describe("parseConfig: the tunnel budget", () => {
  it("defaults to two gateways per PortForward and a 60 s idle timeout, and takes other values", () => {
    const controller = parse("controller");
    assert.equal(controller.command === "controller" && controller.controller.gatewaysPerPortForward, 2);
    const unlimited = parse("controller --gateways-per-portforward 0");
    assert.equal(unlimited.command === "controller" && unlimited.controller.gatewaysPerPortForward, 0);
    const gateway = parse("gateway --idle-tunnel-timeout 5m");
    assert.equal(gateway.command === "gateway" && gateway.gateway.idleTunnelCloseMs, 300_000);
    const defaults = parse("gateway");
    assert.equal(defaults.command === "gateway" && defaults.gateway.idleTunnelCloseMs, 60_000);
  });

  it("budgets counter-only status writes at 5 per second by default, takes fractions, and refuses 0 or words", () => {
    const defaults = parse("gateway");
    assert.equal(defaults.command === "gateway" && defaults.gateway.counterWritesPerSecond, 5);
    const slow = parse("run --counter-writes-per-second 0.5");
    assert.equal(slow.command === "run" && slow.gateway.counterWritesPerSecond, 0.5);
    refused(
      "gateway --counter-writes-per-second 0",
      /--counter-writes-per-second must be a number of writes per second above 0, e\.g\. 5 or 0\.5, got "0"/,
    );
    refused("gateway --counter-writes-per-second fast", /--counter-writes-per-second must be a number/);
  });
});
