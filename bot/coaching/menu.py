"""The menu: its text and buttons, from the curriculum and what the user has done (no Rasa)."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from bot.coaching import curriculum


def _button(title: str, payload: str) -> Dict[str, str]:
    return {"title": title, "payload": payload}


def start_payload(step_id: str) -> str:
    return '/start_step{"step": "%s"}' % step_id


def start_button(step: curriculum.Step, title_key: str = "step.button_continue") -> Dict[str, str]:
    """The button that starts `step` ("Start: <title>", or the text under `title_key`)."""
    return _button(curriculum.text(title_key, title=step.title), start_payload(step.id))


def menu_button() -> Dict[str, str]:
    return _button(curriculum.text("step.button_menu"), "/show_menu")


def _status(step: curriculum.Step, done: List[str], in_progress: List[str]) -> str:
    if step.status == curriculum.STATUS_SCREEN:
        return curriculum.text("menu.status_screen_done")
    if step.id in done:
        return curriculum.text("menu.status_done")
    if step.id in in_progress:
        return curriculum.text("menu.status_in_progress")
    return curriculum.text("menu.status_not_started")


def group_payload(group: str) -> str:
    return '/show_menu{"group": "%s"}' % group


def menu(
    done: List[str], in_progress: List[str], flagged: bool, group: Optional[str] = None
) -> Tuple[str, List[Dict[str, str]]]:
    """The menu text and its buttons.

    Without a group: one line and one button per group of steps (short enough for a phone).
    With a group: its steps with their status, a button for each step that can be started.
    After a violence flag only the steps open to everyone are listed, with the support path.
    """
    buttons: List[Dict[str, str]] = []
    if group in curriculum.GROUPS:
        lines = [curriculum.text(f"menu.groups.{group}") + ":"]
        for step in curriculum.group_steps(group):
            if not step.open_for(flagged):
                continue
            lines.append(f"- {step.title} ({_status(step, done, in_progress)})")
            if step.available:
                buttons.append(_button(step.title, start_payload(step.id)))
        if len(lines) == 1:
            lines.append(curriculum.text("menu.partner_closed"))
        buttons.append(_button(curriculum.text("menu.button_all"), "/show_menu"))
    else:
        lines = [curriculum.text("menu.header_flagged" if flagged else "menu.header"), ""]
        for name in curriculum.GROUPS:
            steps = [s for s in curriculum.group_steps(name) if s.open_for(flagged)]
            if not steps:
                continue
            finished = sum(1 for s in steps if s.id in done or s.status == curriculum.STATUS_SCREEN)
            lines.append(
                curriculum.text(
                    "menu.group_line", group=curriculum.text(f"menu.groups.{name}"), done=finished, total=len(steps)
                )
            )
            buttons.append(_button(curriculum.text(f"menu.groups.{name}"), group_payload(name)))
        if flagged:
            lines += ["", curriculum.text("menu.partner_closed")]
        else:
            buttons.append(_button(curriculum.text("practice.button_practice"), "/start_practice"))
    buttons.append(_button(curriculum.text("menu.button_next"), "/what_next"))
    buttons.append(_button(curriculum.text("menu.button_progress"), "/ask_progress"))
    if flagged:
        buttons.insert(0, _button(curriculum.text("menu.button_support"), "/ask_individual_support"))
    return "\n".join(lines), buttons
