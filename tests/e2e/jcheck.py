#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Asserts facts about a JSON document, for the end-to-end tests.

  jcheck.py FILE 'PATH OP VALUE' ...

PATH is dotted (calls.malloc, sizes.3001.live, definitely_lost.bytes,
sites.0.frames.0.function); OP is one of == != >= <= > < ; VALUE is an
integer, true, false, null or a string (quotes optional).  Prints one line
per failed assertion with the actual value; exit 1 if any failed, 2 if the
file is not JSON.
"""
import json
import operator
import sys

OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge,
       "<=": operator.le, ">": operator.gt, "<": operator.lt}
MISSING = object()


def lookup(doc, path):
    cur = doc
    for part in path.split("."):
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return MISSING
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return MISSING
    return cur


def parse_value(v):
    if v in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[v]
    try:
        return int(v)
    except ValueError:
        return v.strip("'\"")


def main(argv):
    try:
        with open(argv[1]) as f:
            doc = json.load(f)
    except (OSError, ValueError, IndexError) as e:
        print("jcheck: %s: not JSON (%s)" % (argv[1:2], e))
        return 2
    bad = 0
    for a in argv[2:]:
        path, op, value = a.split(None, 2)
        actual = lookup(doc, path)
        want = parse_value(value)
        try:
            ok = actual is not MISSING and OPS[op](actual, want)
        except TypeError:
            ok = False
        if not ok:
            bad += 1
            print("    %s: expected %s %s, got %s" % (
                path, op, value,
                "nothing" if actual is MISSING else json.dumps(actual)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
