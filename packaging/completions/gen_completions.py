#!/usr/bin/env python3
"""Writes bash and zsh completions for certkeeper programs from their --help (CLI11 format).

  gen_completions.py --bin-dir DIR --out DIR PROGRAM...

For each PROGRAM: OUT/bash/PROGRAM and OUT/zsh/_PROGRAM. Long and short flags, which of
them take a value (completed as file names), subcommands with their own flags, and
certmgr's classic single-dash forms. Generated at package build time, so they follow
the programs' flags and cannot drift from them.
"""
import argparse
import os
import re
import subprocess
import sys

OPTION = re.compile(r"^  (?:(-\w),)?(--[a-z][a-z0-9-]*)(.*)$")
DESCRIPTION_COLUMN = re.compile(r"^ {20,}(\S.*)$")
# The established alias gets the same completion as certmgr.
ALIASES = {"certmgr": ["CertificateManager"]}


class Option:
    def __init__(self, short, long, takes_value, repeatable, description):
        self.short, self.long = short, long
        self.takes_value, self.repeatable = takes_value, repeatable
        self.description = description


class Help:
    def __init__(self):
        self.options = []
        self.subcommands = []  # (name, description)
        self.classic = []  # ("-c", "-c PASSWORD")


def run_help(bin_dir, program, *subcommand):
    cmd = [os.path.join(bin_dir, program), *subcommand, "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"gen_completions: {' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def parse(text):
    help = Help()
    lines = text.splitlines()
    section = None
    for i, line in enumerate(lines):
        if line.startswith("Classic forms:") or (section == "classic" and line.startswith(" ")):
            section = "classic"
            body = line.split(":", 1)[1] if line.startswith("Classic forms:") else line
            for form in body.split("|"):
                form = form.strip()
                if form.startswith("-"):
                    help.classic.append((form.split()[0], form))
            continue
        if line and not line.startswith(" "):
            section = line[:-1] if line.endswith(":") else None
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if section == "Options":
            m = OPTION.match(line)
            if not m:
                continue
            short, long, rest = m.groups()
            # CLI11: "--flag TYPE   description", or the description alone on the next line.
            parts = re.split(r"\s{2,}", rest, maxsplit=1)
            head = parts[0].strip()
            description = parts[1] if len(parts) > 1 else ""
            if not description.strip():
                d = DESCRIPTION_COLUMN.match(following)
                description = d.group(1) if d else ""
            takes_value = bool(re.match(r"(TEXT|INT|UINT|FLOAT)\b", head))
            repeatable = takes_value and "..." in head
            help.options.append(Option(short, long, takes_value, repeatable, description.strip()))
        elif section == "Subcommands":
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s+(.*)$", line)
            if m:
                help.subcommands.append((m.group(1), m.group(2).strip()))
    return help


def bash_words(options):
    words = []
    for o in options:
        words += [w for w in (o.short, o.long) if w]
    return " ".join(words)


def bash_valued(options):
    return " ".join(w for o in options if o.takes_value for w in (o.short, o.long) if w)


def write_bash(path, program, help, sub_helps):
    fn = "_" + program.replace("-", "_")
    valued = set(bash_valued(help.options).split())
    for sub in sub_helps.values():
        valued |= set(bash_valued(sub.options).split())
    out = [
        f"# bash completion for {program} (generated from --help by packaging/completions/gen_completions.py)",
        f"{fn}() {{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
        f'    local opts="{bash_words(help.options)}"',
        f'    local valued=" {" ".join(sorted(valued))} "',
        "    # A flag's value: file names (complete -o default).",
        '    [[ $valued == *" $prev "* ]] && { COMPREPLY=(); return; }',
    ]
    if help.subcommands:
        names = " ".join(n for n, _ in help.subcommands)
        classic = " ".join(flag for flag, _ in help.classic)
        out += [
            f'    local subcommands=" {names} " sub="" w',
            '    for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do',
            '        [[ $subcommands == *" $w "* ]] && { sub=$w; break; }',
            "    done",
            "    case $sub in",
        ]
        for name, sub in sub_helps.items():
            out.append(f'        {name}) opts="$opts {bash_words(sub.options)}" ;;')
        out += [
            f'        "") opts="$opts {classic}" ;;',
            "    esac",
            "    if [[ $cur == -* ]]; then",
            '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
            "    elif [[ -z $sub ]]; then",
            '        COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))',
            "    fi",
        ]
    else:
        out += ['    [[ $cur == -* ]] && COMPREPLY=($(compgen -W "$opts" -- "$cur"))']
    names = " ".join([program] + ALIASES.get(program, []))
    out += ["}", f"complete -o default -F {fn} {names}", ""]
    with open(path, "w") as f:
        f.write("\n".join(out))


def zsh_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def zsh_description(text):
    return text.replace("[", "(").replace("]", ")").replace("\\", "/")


def zsh_specs(options):
    specs = []
    for o in options:
        desc = zsh_description(o.description)
        value = ":value:_files" if o.takes_value else ""
        star = "*" if o.repeatable else ""
        for flag in (o.short, o.long):
            if flag:
                specs.append(zsh_quote(f"{star}{flag}[{desc}]{value}"))
    return specs


def write_zsh(path, program, help, sub_helps):
    fn = "_" + program.replace("-", "_")
    names = " ".join([program] + ALIASES.get(program, []))
    out = [
        f"#compdef {names}",
        f"# zsh completion for {program} (generated from --help by packaging/completions/gen_completions.py)",
        f"{fn}() {{",
        "    local context state state_descr line",
        "    typeset -A opt_args",
        "    local -a opts=(",
    ]
    out += ["        " + s for s in zsh_specs(help.options)]
    out.append("    )")
    if not help.subcommands:
        out += ["    _arguments -S $opts", "}", f'{fn} "$@"', ""]
    else:
        out.append("    local -a classic=(")
        out += ["        " + zsh_quote(f"{flag}[classic form: {zsh_description(form)}]:*:file:_files")
                for flag, form in help.classic]
        out.append("    )")
        out.append("    local -a subcommands=(")
        out += ["        " + zsh_quote(f"{n}:{d}") for n, d in help.subcommands]
        out += [
            "    )",
            "    _arguments -C -S $opts $classic '1: :->command' '*:: :->args' && return",
            "    case $state in",
            "        command) _describe -t commands 'command' subcommands ;;",
            "        args)",
            "            case $words[1] in",
        ]
        for name, sub in sub_helps.items():
            specs = " ".join(zsh_specs(sub.options))
            out.append(f"                {name}) _arguments -S {specs} '*:file:_files' ;;")
        out += [
            "                *) _files ;;",
            "            esac ;;",
            "    esac",
            "}",
            f'{fn} "$@"',
            "",
        ]
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("programs", nargs="+")
    args = parser.parse_args()
    os.makedirs(os.path.join(args.out, "bash"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "zsh"), exist_ok=True)
    for program in args.programs:
        help = parse(run_help(args.bin_dir, program))
        if not help.options:
            sys.exit(f"gen_completions: no options found in {program} --help")
        sub_helps = {name: parse(run_help(args.bin_dir, program, name)) for name, _ in help.subcommands}
        write_bash(os.path.join(args.out, "bash", program), program, help, sub_helps)
        write_zsh(os.path.join(args.out, "zsh", "_" + program), program, help, sub_helps)


if __name__ == "__main__":
    main()
