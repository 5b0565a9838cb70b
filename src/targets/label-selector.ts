/**
 * Label selector matching and formatting (metav1.LabelSelector semantics), pure.
 */

export interface SelectorRequirement {
  key: string;
  operator: string;
  values?: readonly string[];
}

export interface Selector {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly SelectorRequirement[];
}

/** Whether `labels` satisfy every matchLabels entry and every matchExpressions requirement. */
export function matchesSelector(selector: Selector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const actual = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (actual[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    if (!matchesRequirement(requirement, actual)) return false;
  }
  return true;
}

function matchesRequirement(requirement: SelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return has && values.includes(value ?? "");
    case "NotIn":
      return !has || !values.includes(value ?? "");
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    default:
      // An unknown operator matches nothing, as in apimachinery's LabelSelectorAsSelector (which errors).
      return false;
  }
}

/** Whether the selector selects anything at all; an empty selector must never mean "every pod". */
export function isEmptySelector(selector: Selector | undefined): boolean {
  return selector === undefined || (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
}

/** Formats a selector like kubectl does: `app=web,tier in (a,b),!legacy`. */
export function formatSelector(selector: Selector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const requirement of selector.matchExpressions ?? []) {
    const values = (requirement.values ?? []).join(",");
    switch (requirement.operator) {
      case "In":
        parts.push(`${requirement.key} in (${values})`);
        break;
      case "NotIn":
        parts.push(`${requirement.key} notin (${values})`);
        break;
      case "Exists":
        parts.push(requirement.key);
        break;
      case "DoesNotExist":
        parts.push(`!${requirement.key}`);
        break;
      default:
        parts.push(`${requirement.key} ${requirement.operator} (${values})`);
    }
  }
  return parts.join(",");
}
