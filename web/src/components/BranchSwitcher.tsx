// `< 2 / 3 >` under a message with other versions (edits of a question, regenerated answers): steps to the
// previous or next one. The group's name says where you are ("Version 2 of 3") for a screen reader; the
// visible "2 / 3" says the same to the eye.
import type { Versions } from "../chat/chatStore";
import { ChevronLeftIcon, ChevronRightIcon } from "./icons";

export type Direction = "previous" | "next";

interface Props {
  versions: Versions;
  /** An answer is being written or a switch is under way: the buttons wait. */
  disabled: boolean;
  onSwitch: (to: Direction) => void;
}

export function BranchSwitcher({ versions, disabled, onSwitch }: Props) {
  const { position, total } = versions;
  return (
    <div className="branch-switcher" role="group" aria-label={`Version ${position} of ${total}`}>
      <button
        type="button"
        className="icon-button small"
        data-to="previous"
        onClick={() => onSwitch("previous")}
        disabled={disabled || versions.previous === null}
        aria-label="Previous version"
        title="Previous version"
      >
        <ChevronLeftIcon />
      </button>
      <span className="branch-position" aria-hidden="true">
        {position} / {total}
      </span>
      <button
        type="button"
        className="icon-button small"
        data-to="next"
        onClick={() => onSwitch("next")}
        disabled={disabled || versions.next === null}
        aria-label="Next version"
        title="Next version"
      >
        <ChevronRightIcon />
      </button>
    </div>
  );
}
