import { PRIORITIES, type Priority } from "todo-api/src/rules.ts";

/** The API's priorities, highest first, as a person reads them. */
export const priorityChoices = PRIORITIES.toReversed().map((value: Priority) => ({
  value,
  label: value[0]!.toUpperCase() + value.slice(1),
}));

export function PrioritySelect({ name, label, value }: { name: string; label: string; value?: string | null }) {
  return (
    <select name={name} aria-label={label} defaultValue={value ?? ""}>
      <option value="">No priority</option>
      {priorityChoices.map(({ value, label }) => (
        <option key={value} value={value}>
          {label}
        </option>
      ))}
    </select>
  );
}
