#!/usr/bin/env python3
"""tests/docs/check.py - the README and docs/ against the code they describe.

    tests/docs/check.py ROOT SETTINGS_JSON  one line per check: "PASS name" or
                                            "FAIL name: problem; problem"; exit 1 on a FAIL

ROOT is a gosling tree (its README.md, docs/, tests/badinput.sh); SETTINGS_JSON is what `gosling settings --json` prints.  Checks: the README's length;
every relative link of README.md and docs/*.md names a file that exists and, with a
#fragment, a heading of that file (GitHub's slugs); docs/commands.md's settings table
is exactly the settings table of the runtime (flag, variables, default); every row of
docs/testing.md's bad-input table names a test of tests/badinput.sh.
"""
import json
import os
import re
import sys

README_MAX_LINES = 200


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    out, fenced = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            out.add(slug(line.lstrip("#")))
    return out


def prose(text):
    """The text outside fenced code blocks and inline code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def table_rows(text, heading):
    """Cells of the first Markdown table after the heading line `heading`."""
    lines = text.split("\n")
    try:
        i = lines.index(heading)
    except ValueError:
        return None
    rows, started = [], False
    for line in lines[i + 1:]:
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not re.fullmatch(r"[-:| ]+", line):
                rows.append(cells)
        elif started or line.startswith("#"):
            break
    return rows[1:]  # without the header row


def main():
    settings = json.load(open(sys.argv[2]))
    os.chdir(sys.argv[1])
    results = []

    def check(name, fn):
        problems = []
        try:
            fn(problems.append)
        except Exception as e:  # a crash is a failure that says so
            problems.append("check crashed: %r" % e)
        results.append((name, problems))

    pages = ["README.md"] + sorted("docs/" + f for f in os.listdir("docs") if f.endswith(".md"))

    def readme_length(fail):
        n = sum(1 for _ in open("README.md", encoding="utf-8"))
        if n > README_MAX_LINES:
            fail("README.md has %d lines, more than %d: move reference text to docs/" % (n, README_MAX_LINES))
    check("README.md is at most %d lines" % README_MAX_LINES, readme_length)

    def links(fail):
        for page in pages:
            text = prose(open(page, encoding="utf-8").read())
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:", target):
                    continue
                file, _, frag = target.partition("#")
                path = os.path.normpath(os.path.join(os.path.dirname(page), file)) if file else page
                if path.startswith(".."):
                    continue  # outside the repository (../shared/DESIGN.md): not ours to check
                if not os.path.exists(path):
                    fail("%s links to %s, which does not exist" % (page, target))
                elif frag and path.endswith(".md") and frag not in anchors(path):
                    fail("%s links to %s: %s has no heading #%s" % (page, target, path, frag))
    check("every relative link in README.md and docs/ resolves, anchors included", links)

    def settings_table(fail):
        rows = table_rows(open("docs/commands.md", encoding="utf-8").read(), "### Settings")
        if rows is None:
            return fail('docs/commands.md has no "### Settings" table')
        documented = {}
        for cells in rows:
            m = re.fullmatch(r"`--([a-z0-9-]+)`", cells[0])
            if not m:
                fail("docs/commands.md settings row %r has no `--flag` in column one" % cells[0])
                continue
            documented[m.group(1)] = cells
        for s in settings:
            cells = documented.pop(s["name"], None)
            if cells is None:
                fail("setting --%s (%s) is not in docs/commands.md's settings table" % (s["name"], s["env"]))
                continue
            envs = re.findall(r"`([A-Z0-9_]+)`", cells[1])
            want = [s["env"]] + ([s["env_alt"]] if s.get("env_alt") else [])
            if envs != want:
                fail("--%s: the table says %s, the runtime reads %s" % (s["name"], envs, want))
            default = "`%s`" % s["default"] if s["default"] is not None else "—"
            if cells[2] != default:
                fail("--%s: the table's default is %s, the runtime's %s" % (s["name"], cells[2], default))
        for name in documented:
            fail("docs/commands.md documents --%s, which is not a setting" % name)
    check("docs/commands.md's settings table is gosling's settings table (flag, variables, default)",
          settings_table)

    def badinput_table(fail):
        rows = table_rows(open("docs/testing.md", encoding="utf-8").read(), "## Bad input")
        if not rows:
            return fail('docs/testing.md has no "## Bad input" table')
        script = open("tests/badinput.sh", encoding="utf-8").read()
        for cells in rows:
            for name in cells[-1].split(";"):
                stem = re.sub(r"\s*\([^)]*\)$", "", name.strip())  # "(skipped as root)"
                stem = stem.split("…")[0].strip().rstrip("(").strip()
                if not stem or stem not in script:
                    fail("bad-input row %r names no test of tests/badinput.sh" % name.strip())
    check("every row of docs/testing.md's bad-input table names a test of tests/badinput.sh",
          badinput_table)

    failed = False
    for name, problems in results:
        if problems:
            failed = True
            print("FAIL %s: %s" % (name, "; ".join(problems)))
        else:
            print("PASS %s" % name)
    sys.exit(1 if failed else 0)


main()
