#!/usr/bin/env python3
"""docs_commands_exist: every certkeeper command line in the documentation names a real
subcommand or classic form and real flags.

Usage: check_doc_commands.py BIN_DIR SOURCE_DIR

Reads README.md, SECURITY.md and docs/*.md (not docs/commands.md, which is generated
from --help). Checks the lines of fenced shell blocks (```sh, ```bash, ```shell,
```console, or untagged blocks whose lines start with "$ ") and inline code spans that
start with certmgr, CertificateManager, certkeeper-server, certkeeper-agent or
certkeeper-fleet (also after `sudo -u USER`, `runuser -u USER --`, `env VAR=…` or a
path such as build/bin/). Nothing is run but `--help`: for certmgr, the first word that
is not a global flag must be a classic form (from the "Classic forms:" line of
`certmgr --help`) or a subcommand (from its "Subcommands:" section); every flag must be
in the help of the program, of that subcommand, or (after a long subcommand) among
certmgr's global flags — after a classic form only the subcommand's own flags parse.

Prints one line per problem, naming file and line; exit 1 when there is any.
"""

import glob
import os
import re
import shlex
import subprocess
import sys

PROGRAMS = ("certmgr", "CertificateManager", "certkeeper-server", "certkeeper-agent",
            "certkeeper-fleet")
SHELL_LANGS = {"sh", "bash", "shell", "console"}
# Classic form -> the subcommand it is rewritten to (whose flags may follow it).
CLASSIC_TO_SUBCOMMAND = {"-c": "generate", "-r": "restore", "-re": "restore",
                         "-e": "export-agent-key", "-ine": "import", "-l": "list-mismatched"}


class Help:
    """Flags and subcommands parsed from CLI11 help text."""

    def __init__(self, text):
        self.text = text
        self.flags = {}  # "--store" / "-q" -> takes a value
        self.subcommands = []
        section = None
        for line in text.splitlines():
            if re.match(r"^[A-Z][A-Za-z ]*:$", line):
                section = line[:-1]
                continue
            if section == "Options":
                m = re.match(r"^  (-\S+?)(?: (\S+))?(?:\s|$)", line)
                if m:
                    # `--store TEXT`, `--since WHEN`, `--log-level TEXT:{…}=info`; not
                    # `--json (Env:…)` or `-q,--quiet Excludes: …`
                    value = bool(m.group(2)) and bool(
                        re.match(r"^[A-Z][A-Z0-9_]*(?=$|[:=])", m.group(2)))
                    for name in m.group(1).split(","):
                        self.flags[name] = value
            elif section == "Subcommands":
                m = re.match(r"^  (\S+)", line)
                if m:
                    self.subcommands.append(m.group(1))
        m = re.search(r"^Classic forms:(.*?)^Usage:", text, re.S | re.M)
        self.classic = set(re.findall(r"(?:^|\|)\s*(-[a-z]+)\b", m.group(1), re.M)) if m else set()


def run_help(bin_dir, words):
    env = {"PATH": bin_dir + os.pathsep + "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    for name in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        if name in os.environ:
            env[name] = os.environ[name]
    proc = subprocess.run(words + ["--help"], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=30)
    if proc.returncode != 0:
        sys.exit(f"docs_commands_exist: `{' '.join(words)} --help` exited {proc.returncode}")
    return Help(proc.stdout)


def snippets(path):
    """(line number, text) of every command candidate in a Markdown file."""
    out = []
    fence = None  # None, or the language of the open fence ("" when untagged)
    block_has_prompt = False
    pending = ""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, raw in enumerate(lines, 1):
        stripped = raw.strip()
        m = re.match(r"^(```+|~~~+)\s*([A-Za-z]*)", stripped)
        if m:
            fence = None if fence is not None else m.group(2).lower()
            block_has_prompt = False
            continue
        if fence is not None:
            line = stripped
            if line.startswith("$ "):
                line = line[2:]
                block_has_prompt = True
            elif fence not in SHELL_LANGS:
                continue
            if pending:
                line, pending = pending + " " + line, ""
            if line.endswith("\\"):
                pending = line[:-1]
                continue
            out.append((n, line))
        else:
            for span in re.findall(r"`([^`]+)`", raw):
                out.append((n, span.replace("\\|", "|")))
    return out


def command_words(text):
    """The words of the certkeeper command in `text`, or None when it has none."""
    text = re.split(r"\s(?:<|>|\||&&|;|#)\s", " " + text + " ")[0].strip()
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    i = 0
    while i < len(words):
        w = words[i]
        base = os.path.basename(w)
        if base in PROGRAMS:
            return base, words[i + 1:]
        if w in ("sudo", "runuser") and i + 2 < len(words) and words[i + 1] == "-u":
            i += 3
            if i < len(words) and words[i] == "--":
                i += 1
            continue
        if w == "env" or re.match(r"^[A-Z_][A-Z0-9_]*=", w):
            i += 1
            continue
        return None
    return None


def clean_flag(word):
    """'--memory|--state-root' -> ['--memory', '--state-root']; '[--json]' -> ['--json']."""
    out = []
    for part in word.strip("[]()").split("|"):
        part = part.strip("[](),.;")
        if part.startswith("-") and part != "-" and not re.match(r"^-\d", part):
            out.append(part.split("=")[0])
    return out


def check_flags(words, known, where, problems, what):
    for w in words:
        for flag in clean_flag(w):
            if flag in known:
                continue
            # -vv: a cluster of short flags
            if re.match(r"^-[A-Za-z]{2,}$", flag) and all(f"-{c}" in known for c in flag[1:]):
                continue
            problems.append(f"{where}: {what}: unknown flag {flag}")


def check_certmgr(args, helps, where, problems):
    top = helps["certmgr"]
    i = 0
    while i < len(args):
        a = args[i]
        if re.match(r"^-[A-Za-z]{2,}$", a) and all(f"-{c}" in top.flags for c in a[1:]):
            i += 1  # a cluster of short global flags: -vv
            continue
        if a.startswith("--") or (a.startswith("-") and a in top.flags):
            name = a.split("=")[0]
            if name not in top.flags:
                break  # not a global flag: a classic form, or an error reported below
            i += 2 if top.flags[name] and "=" not in a else 1
            continue
        break
    if i >= len(args):
        return  # only global flags (e.g. `certmgr --help`)
    first = args[i]
    rest = args[i + 1:]
    if first in ("-h", "--help"):
        return
    if first.startswith("-"):
        if first not in top.classic or first not in CLASSIC_TO_SUBCOMMAND:
            problems.append(f"{where}: certmgr: {first} is neither a global flag nor a classic form")
            return
        sub = CLASSIC_TO_SUBCOMMAND[first]
        known = dict(helps[sub].flags)
        check_flags(rest, known, where, problems, f"certmgr {first}")
        return
    if first not in top.subcommands:
        if re.match(r"^[a-z][a-z-]+$", first):
            problems.append(f"{where}: certmgr: no subcommand {first!r}")
        return  # a placeholder such as SUBCOMMAND or …
    known = dict(helps[first].flags)
    known.update(top.flags)
    check_flags(rest, known, where, problems, f"certmgr {first}")


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: check_doc_commands.py BIN_DIR SOURCE_DIR")
    bin_dir, src = (os.path.abspath(a) for a in argv)
    helps = {"certmgr": run_help(bin_dir, ["certmgr"])}
    if not helps["certmgr"].subcommands or not helps["certmgr"].classic:
        sys.exit("docs_commands_exist: no subcommands or classic forms in `certmgr --help`")
    for sub in helps["certmgr"].subcommands:
        helps[sub] = run_help(bin_dir, ["certmgr", sub])
    for prog in PROGRAMS[2:]:
        helps[prog] = run_help(bin_dir, [prog])

    files = [os.path.join(src, "README.md"), os.path.join(src, "SECURITY.md")]
    files += sorted(p for p in glob.glob(os.path.join(src, "docs", "*.md"))
                    if os.path.basename(p) != "commands.md")
    problems = []
    checked = 0
    for path in files:
        if not os.path.exists(path):
            continue
        rel = os.path.relpath(path, src)
        for n, text in snippets(path):
            found = command_words(text)
            if not found:
                continue
            prog, args = found
            checked += 1
            where = f"{rel}:{n}"
            if prog in ("certmgr", "CertificateManager"):
                check_certmgr(args, helps, where, problems)
            else:
                check_flags(args, helps[prog].flags, where, problems, prog)
    for p in problems:
        print(p)
    if problems:
        print(f"docs_commands_exist: {len(problems)} problem(s) in {checked} command lines "
              f"(flags and subcommands from --help in {bin_dir})", file=sys.stderr)
        return 1
    print(f"docs_commands_exist: {checked} command lines in {len(files)} files name real "
          f"subcommands, classic forms and flags")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
