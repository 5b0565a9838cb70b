/**
 * Builds the PortForward CustomResourceDefinition (apiextensions.k8s.io/v1) from the zod schemas.
 *
 * zod's JSON Schema output is turned into a Kubernetes structural schema: int-or-string unions
 * become `x-kubernetes-int-or-string`, JavaScript's safe-integer bounds are dropped, and every
 * property must carry a description (so `kubectl explain` documents every field) — a missing
 * description is an error, not a silent gap.
 */
import { z } from "zod";
import { CATEGORIES, CRD_NAME, GROUP, KIND, LIST_KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION } from "./identity.ts";
import { ROOT_CEL_RULES } from "./portforward.ts";
import { PortForwardSpecSchema } from "./spec.ts";
import { PortForwardStatusSchema } from "./status.ts";

export type JsonSchema = { [key: string]: unknown };

const KEY_ORDER = ["description", "type", "format", "default", "enum"];
const LAST_KEYS = ["properties", "additionalProperties", "items", "required"];

function orderKeys(node: JsonSchema): JsonSchema {
  const keys = Object.keys(node);
  const first = KEY_ORDER.filter((k) => k in node);
  const last = LAST_KEYS.filter((k) => k in node);
  const middle = keys.filter((k) => !first.includes(k) && !last.includes(k)).sort();
  const ordered: JsonSchema = {};
  for (const key of [...first, ...middle, ...last]) ordered[key] = node[key];
  return ordered;
}

function isIntOrStringUnion(anyOf: unknown): anyOf is JsonSchema[] {
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return false;
  const types = anyOf.map((branch: JsonSchema) => branch.type).sort();
  return types[0] === "integer" && types[1] === "string";
}

/**
 * Converts one JSON Schema node produced by `z.toJSONSchema` into a structural schema node.
 * `path` names the node in error messages.
 */
export function toStructuralSchema(input: JsonSchema, path = ""): JsonSchema {
  const node: JsonSchema = { ...input };
  delete node.$schema;
  if (node.additionalProperties === false) delete node.additionalProperties;
  if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
  if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
  if ("const" in node) {
    node.enum = [node.const];
    delete node.const;
  }
  if (node.anyOf !== undefined) {
    if (!isIntOrStringUnion(node.anyOf)) {
      throw new Error(`${path || "<root>"}: only int-or-string unions can be expressed in a structural schema`);
    }
    if (!Array.isArray(node["x-kubernetes-validations"])) {
      throw new Error(`${path}: an int-or-string field needs CEL rules restating its branches' constraints`);
    }
    node["x-kubernetes-int-or-string"] = true;
    // Kubernetes accepts exactly `anyOf: [{type: integer}, {type: string}]` here; the branches'
    // value constraints must therefore be restated as CEL rules on the node (see TargetPortSchema).
    node.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  if (typeof node.properties === "object" && node.properties !== null) {
    const properties: JsonSchema = {};
    for (const [name, child] of Object.entries(node.properties as Record<string, JsonSchema>)) {
      const childPath = `${path}.${name}`;
      if (typeof child.description !== "string" || child.description.length === 0) {
        throw new Error(`${childPath}: every field needs a description (kubectl explain shows it)`);
      }
      properties[name] = toStructuralSchema(child, childPath);
    }
    node.properties = properties;
  }
  if (typeof node.items === "object" && node.items !== null) {
    node.items = toStructuralSchema(node.items as JsonSchema, `${path}[]`);
  }
  if (typeof node.additionalProperties === "object" && node.additionalProperties !== null) {
    node.additionalProperties = toStructuralSchema(node.additionalProperties as JsonSchema, `${path}{}`);
  }
  return orderKeys(node);
}

function schemaOf(schema: z.ZodType): JsonSchema {
  return toStructuralSchema(z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" }) as JsonSchema);
}

const READY = `.status.conditions[?(@.type=="Ready")]`;

export const PRINTER_COLUMNS = [
  { name: "Target", type: "string", jsonPath: ".status.target", description: "The target, e.g. deployment/api." },
  { name: "Service", type: "string", jsonPath: ".status.serviceName", description: "The Service that exposes the ports." },
  { name: "Ready", type: "string", jsonPath: `${READY}.status`, description: "Whether the data path works." },
  {
    name: "Suspended",
    type: "boolean",
    jsonPath: ".spec.suspend",
    description: "Whether spec.suspend closes the tunnels (as Flux shows SUSPENDED).",
  },
  {
    name: "Pods",
    type: "string",
    jsonPath: ".status.pods",
    description: "Ready and total target pods, and not-ready pods served (spec.includeNotReadyPods).",
  },
  {
    name: "Connections",
    type: "integer",
    jsonPath: ".status.totals.activeConnections",
    description: "Client connections open through all gateways.",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  {
    name: "Pod Services",
    type: "string",
    priority: 1,
    jsonPath: ".status.podServices[*].service",
    description: "The per-pod Services (spec.service.perPod).",
  },
  { name: "Reason", type: "string", priority: 1, jsonPath: `${READY}.reason`, description: "Reason of the Ready condition." },
  { name: "Message", type: "string", priority: 1, jsonPath: `${READY}.message`, description: "Message of the Ready condition." },
] as const;

/** What a PortForward's status reads as before the controller's first status write. */
export const UNOBSERVED_STATUS = { observedGeneration: 0 } as const;

/** The OpenAPI v3 schema of the whole PortForward object (the CRD's `openAPIV3Schema`). */
export function buildOpenApiSchema(): JsonSchema {
  return {
    description:
      "PortForward keeps port-forward tunnels from the in-cluster tunnelkeeper gateway to target pods alive and exposes them through a stable Service. Targets are always in the PortForward's own namespace.",
    type: "object",
    "x-kubernetes-validations": ROOT_CEL_RULES["x-kubernetes-validations"],
    properties: {
      apiVersion: {
        description:
          "APIVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        type: "string",
      },
      kind: {
        description:
          "Kind is a string value representing the REST resource this object represents. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        type: "string",
      },
      metadata: { type: "object" },
      spec: schemaOf(PortForwardSpecSchema),
      // The API server applies this default wherever status is absent, in requests and in
      // objects read from etcd, so a create stores no status and every read shows the default
      // (a gateway entry written first stores it along; the controller's first write replaces
      // it). observedGeneration 0 is behind every metadata.generation, so kstatus (Flux,
      // cli-utils) reads a PortForward no controller has reconciled yet as InProgress. Without
      // it, no status and no conditions read as Current, and a `wait: true` sync passed before
      // any tunnel existed.
      status: { ...schemaOf(PortForwardStatusSchema), default: UNOBSERVED_STATUS },
    },
    required: ["spec"],
  };
}

/** The PortForward CustomResourceDefinition as a plain object, ready to be serialised. */
export function buildCrd(): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: CRD_NAME,
      labels: { "app.kubernetes.io/name": "tunnelkeeper", "app.kubernetes.io/component": "crd" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: [...CATEGORIES],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS.map((column) => ({ ...column })),
          schema: { openAPIV3Schema: buildOpenApiSchema() },
        },
      ],
    },
  };
}
