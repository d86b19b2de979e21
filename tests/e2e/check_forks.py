#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the recordings examples/forks leaves under VMSPY_OUT=REC (see the
ground truth at the top of examples/forks.c): which directories exist and
what their meta and events say.

  check_forks.py REC

Prints one line per problem; exit 1 if there was any.
"""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vmsdump  # noqa: E402


def sizes(rec):
    s = vmsdump.summarize(rec)
    live = {}
    for size, _, _ in s["_live"].values():
        live[size] = live.get(size, 0) + 1
    return s, live


def main(root):
    bad = []
    dirs = [d for d in [root] + glob.glob(root + ".*") if os.path.isdir(d)]
    recs = {}
    for d in dirs:
        try:
            recs[d] = sizes(d)
        except (OSError, vmsdump.Bad, ValueError, KeyError) as e:
            bad.append("%s: unreadable: %s" % (d, e))
    if bad:
        return bad
    if len(dirs) != 5:
        bad.append("want 5 recordings, found %d: %s" % (
            len(dirs), " ".join(sorted(os.path.basename(d) for d in dirs))))
    if root not in recs:
        return bad + ["no recording at %s" % root]
    top, _ = recs[root]
    P = top["pid"]
    if top["parent"] or top["predecessor"]:
        bad.append("first recording names a parent/predecessor")
    if top["calls"]["fork"] != 1 or top["calls"]["vfork"] != 1:
        bad.append("first recording: fork %d vfork %d, want 1 and 1" % (
            top["calls"]["fork"], top["calls"]["vfork"]))

    def one(desc, pred):
        found = [d for d, (s, live) in recs.items() if pred(d, s, live)]
        if len(found) != 1:
            bad.append("want exactly one recording of %s, found %d" %
                       (desc, len(found)))
            return None
        return found[0]

    after = one("the image after exec (%s.%d)" % (root, P),
                lambda d, s, l: d == "%s.%d" % (root, P))
    if after:
        s, live = recs[after]
        if s["pid"] != P or s["predecessor"] != root or s["parent"]:
            bad.append("%s: pid %s predecessor %s parent %s; want %d, %s, "
                       "none" % (after, s["pid"], s["predecessor"],
                                 s["parent"], P, root))
        if s["argv"][1:2] != ["--after-exec"] or live.get(5151) != 1 or \
                not s["clean_exit"]:
            bad.append("%s: argv %s, live 5151-byte blocks %s, clean %s" %
                       (after, s["argv"], live.get(5151), s["clean_exit"]))

    fork_child = one("the fork child (5 x 12345 live)",
                     lambda d, s, l: l.get(12345) == 5)
    if fork_child:
        s, _ = recs[fork_child]
        if s["parent"] != root or s["ppid"] != P or s["predecessor"] or \
                not s["clean_exit"] or fork_child != "%s.%d" % (root,
                                                                s["pid"]):
            bad.append("fork child %s: parent %s ppid %s predecessor %s "
                       "clean %s" % (fork_child, s["parent"], s["ppid"],
                                     s["predecessor"], s["clean_exit"]))

    # The vfork child (run as fork) records nothing before it execs, so it
    # leaves no recording of its own: its exec'd image is the first, and
    # names the parent process's recording.
    execd = one("the vfork child's exec'd image (--exec-child)",
                lambda d, s, l: s["argv"][1:2] == ["--exec-child"])
    if execd:
        s, live = recs[execd]
        if live.get(4242) != 2 or not s["clean_exit"] or s["ppid"] != P:
            bad.append("%s: live 4242-byte blocks %s, clean %s, ppid %s" %
                       (execd, live.get(4242), s["clean_exit"], s["ppid"]))
        if s["parent"] != root or s["predecessor"] or \
                execd != "%s.%d" % (root, s["pid"]):
            bad.append("%s: parent %s predecessor %s, want %s and none" %
                       (execd, s["parent"], s["predecessor"], root))

    spawn = one("the posix_spawn'ed /bin/true",
                lambda d, s, l: s["exe"] and s["exe"].endswith("/true"))
    if spawn:
        s, _ = recs[spawn]
        if s["parent"] != root or s["ppid"] != P or s["predecessor"]:
            bad.append("%s: parent %s ppid %s predecessor %s" % (
                spawn, s["parent"], s["ppid"], s["predecessor"]))
    return bad


if __name__ == "__main__":
    problems = main(sys.argv[1].rstrip("/"))
    for p in problems:
        print("    " + p)
    sys.exit(1 if problems else 0)
