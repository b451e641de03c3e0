interface Props {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
  /** what the switch says next to itself, e.g. On / Off */
  stateText?: [on: string, off: string];
}

/** An on/off switch: a button with role="switch", operable with Space and Enter. */
export function Switch({ label, checked, onChange, disabled, stateText = ['On', 'Off'] }: Props) {
  return (
    <button
      type="button"
      role="switch"
      aria-checked={checked}
      className="switch"
      disabled={disabled}
      onClick={() => onChange(!checked)}
    >
      <span className="switch-track" aria-hidden="true">
        <span className="switch-thumb" />
      </span>
      <span className="switch-label">{label}</span>
      <span className="switch-state" aria-hidden="true">{checked ? stateText[0] : stateText[1]}</span>
    </button>
  );
}
