/**
 * Building blocks shared by the spec and status schemas: name patterns, CEL rules and durations.
 *
 * Each constraint is stated once and enforced twice: by zod (in the controller and gateway) and
 * by the API server (the CRD generated from these schemas). A helper therefore carries both the
 * zod check and the CEL rule (`x-kubernetes-validations`) with the same message.
 */
import { z } from "zod";

/** One CEL rule of a CRD schema node (apiextensions.k8s.io/v1 ValidationRule). */
export interface CelRule {
  rule: string;
  message: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  fieldPath?: string;
}

/** Metadata that places CEL rules on the JSON Schema node of a zod schema. */
export function celRules(...rules: CelRule[]): { "x-kubernetes-validations": CelRule[] } {
  return { "x-kubernetes-validations": rules };
}

/** Quotes a regular expression's source as a CEL single-quoted string literal. */
export function celRegex(pattern: RegExp): string {
  return `'${pattern.source.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Go `time.ParseDuration` syntax restricted to ASCII units. */
export const DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/;

export const DNS1035_LABEL_RULE_TEXT =
  "a DNS-1035 label: at most 63 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit";
export const DNS1123_LABEL_RULE_TEXT =
  "a DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit";
export const DNS1123_SUBDOMAIN_RULE_TEXT =
  "a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit";

function patternString(pattern: RegExp, maxLength: number, message: string, description: string) {
  return z
    .string()
    .min(1)
    .max(maxLength)
    .refine((value) => pattern.test(value), { message })
    .meta({
      description,
      minLength: 1,
      ...celRules({ rule: `self.matches(${celRegex(pattern)})`, message }),
    });
}

/** A DNS-1035 label (Service names, Service port names). `what` names the field in the message. */
export function dns1035Label(what: string, description: string) {
  return patternString(DNS1035_LABEL, 63, `${what} must be ${DNS1035_LABEL_RULE_TEXT}`, description);
}

/** A DNS-1123 label (Service port names referenced by name, container port names). */
export function dns1123Label(what: string, description: string) {
  return patternString(DNS1123_LABEL, 63, `${what} must be ${DNS1123_LABEL_RULE_TEXT}`, description);
}

/** A DNS-1123 subdomain (names of Pods, workloads, Secrets). */
export function dns1123Subdomain(what: string, description: string) {
  return patternString(DNS1123_SUBDOMAIN, 253, `${what} must be ${DNS1123_SUBDOMAIN_RULE_TEXT}`, description);
}

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go-style duration ("10s", "1m30s", "500ms") into milliseconds; undefined if malformed. */
export function tryParseDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/g)) {
    total += Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ""] ?? Number.NaN);
  }
  return Number.isFinite(total) ? total : undefined;
}

/** A duration string bounded to [min, max] (both Go duration literals, e.g. "1s" and "5m"). */
export function boundedDuration(what: string, min: string, max: string, description: string) {
  const minMs = tryParseDurationMs(min);
  const maxMs = tryParseDurationMs(max);
  if (minMs === undefined || maxMs === undefined) throw new Error(`invalid duration bounds ${min}..${max}`);
  const message = `${what} must be a duration between ${min} and ${max}, written like 10s, 1m or 1m30s`;
  return z
    .string()
    .max(32)
    .refine(
      (value) => {
        const ms = tryParseDurationMs(value);
        return ms !== undefined && ms >= minMs && ms <= maxMs;
      },
      { message },
    )
    .meta({
      description,
      ...celRules({
        rule: `self.matches(${celRegex(DURATION)}) && duration(self) >= duration('${min}') && duration(self) <= duration('${max}')`,
        message,
      }),
    });
}
