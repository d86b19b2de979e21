# SPDX-License-Identifier: MIT
"""GitHub-markdown tables padded so they also read well in a terminal:
the first column left-aligned, the others right-aligned."""


def table(header, rows):
    """header: list of str; rows: lists of str (or numbers)."""
    cols = list(zip(*([header] + rows))) if rows else [[h] for h in header]
    width = [max(len(str(c)) for c in col) for col in cols]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(width[i]) if i == 0 else str(c).rjust(width[i])
                                 for i, c in enumerate(cells)) + " |"
    sep = "|" + "|".join(("-" * (width[i] + 2)) if i == 0 else
                         ("-" * (width[i] + 1) + ":") for i in range(len(width))) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])
