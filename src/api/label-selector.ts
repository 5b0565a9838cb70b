/**
 * The parts of a Kubernetes label selector that the target selector (spec.ts) and the access
 * peers (access.ts) share: the requirement shape, with its CEL rule, and the label-count bound.
 * They differ only in what an empty selector means (no pods for a target, every pod for a peer),
 * so each builds its own selector object from these.
 */
import { z } from "zod";
import { celRules } from "./validation.ts";

export const MAX_LABELS = 64;

export const LabelSelectorRequirementSchema = z
  .object({
    key: z.string().min(1).max(317).meta({ description: "Label key that the requirement applies to." }),
    operator: z
      .enum(["In", "NotIn", "Exists", "DoesNotExist"])
      .meta({ description: "How the key relates to the values: In, NotIn, Exists or DoesNotExist." }),
    values: z
      .array(z.string().max(63).meta({ description: "A label value." }))
      .max(64)
      .optional()
      .meta({ description: "Label values; non-empty for In and NotIn, empty for Exists and DoesNotExist." }),
  })
  .refine((r) => (r.operator === "In" || r.operator === "NotIn" ? (r.values?.length ?? 0) > 0 : (r.values?.length ?? 0) === 0), {
    message: "values must be non-empty for operator In and NotIn, and empty for Exists and DoesNotExist",
  })
  .meta({
    description: "A label selector requirement: a key, an operator and values.",
    ...celRules({
      rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: "values must be non-empty for operator In and NotIn, and empty for Exists and DoesNotExist",
    }),
  });
