"""What a recovery did, rung by rung: the record a user pastes into a forum post, or a script reads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    rung: str  # "normal connect", "connect under reset", "access port 3", "mass erase", ...
    outcome: str  # "ok" | "failed" | "done" | "needs consent" | "needs you" | "nothing to do"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"rung": self.rung, "outcome": self.outcome, "detail": self.detail}


@dataclass
class RecoveryReport:
    link: str
    steps: list[Step] = field(default_factory=list)
    cause: str | None = None  # the diagnosis code of what was found (see recover.diagnose)
    erased: list[str] = field(default_factory=list)  # what was erased, in the words it was announced
    changed: list[str] = field(default_factory=list)  # option bytes changed, "BCM7: 0 -> 1"
    chip: str | None = None
    recovered: bool = False
    final: str | None = None  # what the closing plain connect saw

    def add(self, rung: str, outcome: str, detail: str) -> Step:
        step = Step(rung, outcome, detail)
        self.steps.append(step)
        return step

    def as_dict(self) -> dict[str, object]:
        return {"link": self.link, "recovered": self.recovered, "chip": self.chip, "cause": self.cause,
                "steps": [s.as_dict() for s in self.steps], "erased": self.erased, "changed": self.changed,
                "final": self.final}

    def render(self) -> str:
        lines = [f"{s.rung}: {s.outcome} - {s.detail}" for s in self.steps]
        lines.append("erased: " + ("; ".join(self.erased) if self.erased else "nothing"))
        lines.append("changed: " + ("; ".join(self.changed) if self.changed else "nothing"))
        if self.final:
            lines.append(f"now: {self.final}")
        return "\n".join(lines)
