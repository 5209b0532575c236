"""Tutorial 03: a run that fails half-way, and `flowc resume` finishing it."""

import os
import time

from flowc import FlowSpec, step


class ResumeFlow(FlowSpec):
    """A slow step, then one that fails until the bug is fixed."""

    @step
    def start(self):
        """Stands for expensive work: resume will not redo it."""
        time.sleep(0.5)
        self.table = {f"row{i}": i * i for i in range(1000)}
        print(f"built a table of {len(self.table)} rows")
        self.next(self.report)

    @step
    def report(self):
        # The "bug": set TUTORIAL_BUG=1 to make this step fail, as broken code would.
        if os.environ.get("TUTORIAL_BUG") == "1":
            raise ValueError("the report step has a bug")
        self.total = sum(self.table.values())
        print("total:", self.total)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ResumeFlow()
