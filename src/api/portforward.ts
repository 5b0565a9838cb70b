/**
 * The PortForward object: apiVersion/kind, metadata, spec and status.
 */
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { z } from "zod";
import { API_VERSION, KIND } from "./identity.ts";
import { type PortForwardSpec, PortForwardSpecSchema } from "./spec.ts";
import { type PortForwardStatus, PortForwardStatusSchema } from "./status.ts";
import { celRegex, celRules, DNS1035_LABEL, DNS1035_LABEL_RULE_TEXT } from "./validation.ts";

export const SERVICE_NAME_FROM_METADATA_MESSAGE = `metadata.name is used as the Service name unless spec.service.name is set, so it must be ${DNS1035_LABEL_RULE_TEXT}; set spec.service.name or choose another name`;

/** Whether a PortForward whose spec names no Service has a name that is a valid Service name. */
export function hasValidServiceName(name: string | undefined, spec: { service?: { name?: string } } | undefined): boolean {
  if (spec?.service?.name !== undefined) return true;
  return name === undefined || (name.length <= 63 && DNS1035_LABEL.test(name));
}

/** The CEL rule at the root of the CRD schema that mirrors {@link hasValidServiceName}. */
export const ROOT_CEL_RULES = celRules({
  rule: `(has(self.spec.service) && has(self.spec.service.name)) || (size(self.metadata.name) <= 63 && self.metadata.name.matches(${celRegex(DNS1035_LABEL)}))`,
  message: SERVICE_NAME_FROM_METADATA_MESSAGE,
});

const MetadataSchema = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
});

/** zod schema of a whole PortForward object as read from the API server. */
export const PortForwardSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(KIND),
    metadata: MetadataSchema,
    spec: PortForwardSpecSchema,
    status: PortForwardStatusSchema.optional(),
  })
  .refine((pf) => hasValidServiceName(pf.metadata.name, pf.spec), {
    message: SERVICE_NAME_FROM_METADATA_MESSAGE,
    path: ["metadata", "name"],
  });

/** A parsed PortForward: spec defaults are filled in. */
export interface PortForward {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  /** Only the metadata fields tunnelkeeper reads; timestamps are left out on purpose (raw JSON has strings). */
  metadata: Pick<V1ObjectMeta, "name" | "namespace" | "uid" | "generation" | "labels" | "annotations" | "resourceVersion">;
  spec: PortForwardSpec;
  status?: PortForwardStatus;
}

/** Parses an object read from the API server; the error lists every violated rule. */
export function parsePortForward(value: unknown): { ok: true; value: PortForward } | { ok: false; error: z.ZodError } {
  const result = PortForwardSchema.safeParse(value);
  if (!result.success) return { ok: false, error: result.error };
  return { ok: true, value: result.data as PortForward };
}
