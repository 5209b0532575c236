"""Generate large, valid flows for benchmarks and tests: a chain of linear steps with static
splits and foreaches sprinkled in, every artifact assigned before it is read. Deterministic."""

from __future__ import annotations


def generate(n_steps: int = 1000, import_from: str = "flowc", name: str = "BigFlow") -> str:
    """A flow with at least ``n_steps`` steps (start and end included)."""
    out = [
        f"from {import_from} import FlowSpec, Parameter, step",
        "",
        "",
        f"class {name}(FlowSpec):",
        f'    """A generated flow with about {n_steps} steps."""',
        "",
        '    alpha = Parameter("alpha", help="A float parameter.", default=0.5)',
        '    width = Parameter("width", help="An int parameter.", default=3)',
        "",
    ]

    def emit(step: str, body: list[str], args: str = "self") -> None:
        out.extend(["    @step", f"    def {step}({args}):", f'        """Step {step}."""'])
        out.extend("        " + line for line in body)
        out.append("")

    count = 1
    k = 1
    entry = f"s{k}"
    emit("start", ["self.acc = self.alpha * self.width", f"self.next(self.{entry})"])
    while count < n_steps - 1:
        here, nxt = f"s{k}", f"s{k + 1}"
        if k % 10 == 3:
            emit(here, [f"self.v{k} = self.acc", f"self.next(self.a{k}, self.b{k})"])
            emit(f"a{k}", [f"self.part = self.acc + {k}", f"self.next(self.j{k})"])
            emit(f"b{k}", [f"self.part = self.acc - {k}", f"self.next(self.j{k})"])
            emit(
                f"j{k}",
                [
                    'self.merge_artifacts(inputs, exclude=["part"])',
                    "self.acc = self.acc + sum(i.part for i in inputs)",
                    f"self.next(self.{nxt})",
                ],
                "self, inputs",
            )
            count += 4
        elif k % 10 == 7:
            emit(
                here,
                [
                    f"self.items{k} = list(range(self.width))",
                    f'self.next(self.f{k}, foreach="items{k}")',
                ],
            )
            emit(f"f{k}", ["self.part = self.input * self.acc", f"self.next(self.j{k})"])
            emit(
                f"j{k}",
                [
                    'self.merge_artifacts(inputs, exclude=["part"])',
                    "self.acc = sum(i.part for i in inputs)",
                    f"self.next(self.{nxt})",
                ],
                "self, inputs",
            )
            count += 3
        else:
            emit(
                here,
                [
                    f"self.v{k} = self.acc * {k}",
                    f"self.acc = self.acc + self.v{k} % 7",
                    f"self.next(self.{nxt})",
                ],
            )
            count += 1
        k += 1
    emit(f"s{k}", ["self.result = self.acc", "self.next(self.end)"])
    emit("end", ["print(self.result)"])
    out += ['if __name__ == "__main__":', f"    {name}()", ""]
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
