export function PrioritySelect({ name, label, value }: { name: string; label: string; value?: string | null }) {
  return (
    <select name={name} aria-label={label} defaultValue={value ?? ""}>
      <option value="">No priority</option>
      <option value="high">High</option>
      <option value="medium">Medium</option>
      <option value="low">Low</option>
    </select>
  );
}
