"""The docs run as written: every command, module, path and link they name exists.

For README.md and every docs/*.md page this reads the fenced shell blocks (bash, sh, shell,
console) and the inline code, and checks that each ``make <target>`` is a Makefile target,
each ``tabpipe <subcommand>`` (also ``.venv/bin/tabpipe``) is one of ``tabpipe.cli``'s
STAGES or TOOLS, each ``python -m <module>`` is importable, each ``tabpipe.x.y`` name in
inline code is a module or a name defined in one, and each path into the repository's source
folders exists. Every relative link must point at a file, and at a heading of it when it
names an anchor. docs/commands.md and docs/layout.md must list exactly what exists: the
Makefile's targets, the tabpipe subcommands and the machinery's modules.

The tables of docs/commands.md (from the Makefile's ``## `` comments and ``tabpipe --help``)
and docs/layout.md (from the modules' docstrings) are generated: after adding a make target,
a subcommand or a module, run ``.venv/bin/python -m tests.test_docs`` to rewrite them.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tabpipe.cli import STAGES, TOOLS
from tabpipe.core.paths import PROJECT_RECORD
from tabpipe.onboarding.init import DEMO_FILES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
COMMANDS_PAGE = DOCS / "commands.md"
LAYOUT_PAGE = DOCS / "layout.md"
MACHINERY = ROOT / "src" / "tabpipe"
REGENERATE = ".venv/bin/python -m tests.test_docs"

SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
# Characters of the shell's operators: separators (&& ; | ...) and redirections (> 2>&1 ...).
OPERATOR_CHARS = set("();<>|&\n")
PYTHON = re.compile(r"(?:.*/)?python(?:3(?:\.\d+)?)?")
TABPIPE = re.compile(r"(?:.*/)?tabpipe")
MAKE = re.compile(r"(?:.*/)?make")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Inline code that is a command rather than a name: it starts with one of these words.
COMMAND_START = re.compile(r"(?:[A-Z_]+=\S*\s+)*(?:make|(?:\.venv/bin/)?tabpipe|python3?)\s")
DOTTED_NAME = re.compile(r"tabpipe(?:\.[A-Za-z_]\w*)+")
# A placeholder in a command (tabpipe <stage>, python -m tabpipe.…) is not checked.
PLACEHOLDER_WORD = re.compile(r"<[^<>\s]+>")
PLACEHOLDER = re.compile(r"[<>{}*$…\[\]|]|\.\.\.")


def source_prefixes() -> tuple[str, ...]:
    """Repository folders whose paths the docs may name only if they exist.

    Folders of generated files (build/, reports/, models/...) are left out: the docs name
    outputs that a command writes. The project package is the one params.yaml names, so the
    check follows ``tabpipe init``'s rename.
    """
    package = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["project"][
        "package"
    ]
    return (
        "src/tabpipe/",
        f"src/{package}/",
        "tests/",
        "benchmarks/",
        "docs/",
        ".github/",
        "contracts/",
    )


# init writes the project record and removes the demo's data page: the docs may name them
# either way (README's dataset section, which init rewrites, links the demo page).
INIT_MANAGED = {PROJECT_RECORD.as_posix(), *(p.as_posix() for p in DEMO_FILES)}


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


# --- what exists ------------------------------------------------------------------------


@dataclass(frozen=True)
class MakeTargets:
    targets: frozenset[str]
    phony: frozenset[str]


@cache
def make_targets() -> MakeTargets:
    """The Makefile's targets as make itself reads them (``make -pRrq``: its database)."""
    done = subprocess.run(
        ["make", "-pRrq", "--no-print-directory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,  # -q exits 1 when the default goal is out of date
    )
    files = done.stdout.split("\n# Files\n", 1)[-1].split("\n# Finished Make data base", 1)[0]
    targets: set[str] = set()
    phony: set[str] = set()
    previous = ""
    for line in files.splitlines():
        rule = re.match(r"([^#\s][^:=]*?)::?(?!=)(.*)$", line)
        if rule and previous != "# Not a target:":
            name = rule.group(1)
            if name == ".PHONY":
                phony.update(rule.group(2).split())
            elif not name.startswith("."):
                targets.add(name)
        previous = line
    assert "run" in targets and "test" in targets, f"could not read make's database: {done}"
    return MakeTargets(frozenset(targets), frozenset(phony))


def documented_make_targets() -> list[tuple[str, str]]:
    """Each target with a ``## `` comment and the comment, in Makefile order (as make help)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.findall(r"(?m)^([a-z][a-z-]*):.*?## (.*)$", text)


def subcommands() -> list[tuple[str, str, str]]:
    """(section, subcommand, purpose) from ``tabpipe --help``."""
    from tabpipe.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--help"]) == 0
    rows: list[tuple[str, str, str]] = []
    section = ""
    for line in out.getvalue().splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            section = line.split(" (")[0].rstrip(":")
        elif line.startswith("  ") and section:
            name, _, purpose = line.strip().partition(" ")
            rows.append((section, name, purpose.strip()))
    return rows


# --- reading a page -----------------------------------------------------------------------


@dataclass
class Page:
    path: Path
    text: str
    tokens: list[Token] = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = markdown().parse(self.text)

    @property
    def name(self) -> str:
        return self.path.relative_to(ROOT).as_posix() if self.path.is_relative_to(ROOT) else "x"

    def shell_blocks(self) -> list[tuple[int, str]]:
        """(first line, text) of each fenced shell block; console blocks keep their $ lines."""
        blocks = []
        for token in self.tokens:
            lang = token.info.split()[0] if token.info.strip() else ""
            if token.type == "fence" and lang in SHELL_BLOCKS and token.map:
                text = console_commands(token.content) if lang == "console" else token.content
                blocks.append((token.map[0] + 2, text))
        return blocks

    def inline(self) -> list[tuple[int, Token]]:
        """(line, child) for every inline element: code spans, links, text."""
        found = []
        for token in self.tokens:
            if token.type == "inline" and token.children is not None:
                line = token.map[0] + 1 if token.map else 0
                for child in token.children:
                    found.append((line, child))
                    line += child.type in {"softbreak", "hardbreak"}
        return found

    def anchors(self) -> set[str]:
        """The heading anchors GitHub renders for this page."""
        seen: dict[str, int] = {}
        anchors = set()
        for i, token in enumerate(self.tokens):
            if token.type != "heading_open":
                continue
            slug = github_slug(heading_text(self.tokens[i + 1]))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
        return anchors


def heading_text(inline: Token) -> str:
    parts = [c.content for c in inline.children or [] if c.type in {"text", "code_inline"}]
    return "".join(parts)


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.

    Written here because the rule is three lines; mdit-py-plugins (which has one) is not a
    dependency, and github-slugger is JavaScript.
    """
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def console_commands(block: str) -> str:
    """The commands of a console block: lines after a ``$`` prompt and their continuations."""
    kept: list[str] = []
    continued = False
    for line in block.splitlines():
        if line.startswith("$ ") or continued:
            kept.append(line[2:] if line.startswith("$ ") and not continued else line)
            continued = line.endswith("\\")
        else:
            kept.append("")
    return "\n".join(kept)


@cache
def load(path: Path) -> Page:
    return Page(path, path.read_text(encoding="utf-8"))


# --- shell commands ------------------------------------------------------------------------


def simple_commands(script: str) -> list[list[str]]:
    """The simple commands of a script, each as its words (shell syntax via shlex)."""
    script = PLACEHOLDER_WORD.sub("…", script.replace("\\\n", " "))
    lexer = shlex.shlex(
        strip_comments(script),
        posix=True,
        punctuation_chars="".join(sorted(OPERATOR_CHARS)),
    )
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""  # shlex's start inside a word (a#b): strip_comments does it
    commands: list[list[str]] = [[]]
    skip_next = False
    for word in lexer:
        operator = set(word) <= OPERATOR_CHARS
        if operator and set(word) & {"<", ">"}:
            skip_next = True  # a redirection: its file is not an argument, nor its fd (2>)
            if commands[-1] and commands[-1][-1].isdigit():
                commands[-1].pop()
        elif operator:
            commands.append([])
        elif skip_next:
            skip_next = False
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def strip_comments(script: str) -> str:
    """The script without its comments: from a ``#`` that starts a word, outside quotes, to
    the end of the line. Hand-written: shlex has no shell comment rule, and a shell parser
    (bashlex) would be a dependency for these few lines."""
    kept: list[str] = []
    quote, previous, skipping = "", "\n", False
    for char in script:
        if skipping and char != "\n":
            continue
        skipping = False
        if quote:
            if char == quote and (quote == "'" or previous != "\\"):
                quote = ""
        elif char in "'\"" and previous != "\\":
            quote = char
        elif char == "#" and (previous.isspace() or previous in OPERATOR_CHARS):
            skipping = True
            continue
        kept.append(char)
        previous = char
    return "".join(kept)


def command_problems(words: list[str]) -> list[str]:
    """What is wrong with one simple command: a missing make target, subcommand or module."""
    while words and (ASSIGNMENT.match(words[0]) or words[0] in {"time", "env", "exec"}):
        words = words[1:]
    if not words:
        return []
    program, args = words[0], [w for w in words[1:] if "…" not in w]
    problems = [f"no such path: {p}" for p in missing_paths(args)]
    if MAKE.fullmatch(program):
        if {"-C", "-f", "--directory", "--file"} & set(args):
            return problems  # another Makefile
        known = make_targets().targets
        targets = [a for a in args if not a.startswith("-") and not ASSIGNMENT.match(a)]
        problems += [f"make {t}: no such target in the Makefile" for t in targets if t not in known]
    elif TABPIPE.fullmatch(program):
        if args and not args[0].startswith("-") and args[0] not in {*STAGES, *TOOLS}:
            problems.append(f"tabpipe {args[0]}: no such subcommand in tabpipe.cli")
    elif PYTHON.fullmatch(program) and "-m" in words[1:-1]:
        module = words[words.index("-m") + 1]
        if "…" not in module and not module_exists(module):
            problems.append(f"python -m {module}: no such module")
    return problems


def module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def missing_paths(words: list[str]) -> list[str]:
    prefixes = source_prefixes()
    missing = []
    for word in words:
        path = word.split("::")[0].split("=", 1)[-1]
        if not (path.rstrip("/") + "/").startswith(prefixes) or PLACEHOLDER.search(path):
            continue
        if path not in INIT_MANAGED and not (ROOT / path).exists():
            missing.append(path)
    return missing


def dotted_name_exists(name: str) -> bool:
    """``tabpipe.a.b`` is a module, or a name defined at the top level of module ``tabpipe.a``."""
    if module_exists(name):
        return True
    module, _, attribute = name.rpartition(".")
    if not module_exists(module):
        return False
    spec = importlib.util.find_spec(module)
    origin = Path(spec.origin) if spec and spec.origin else None
    if origin is None or origin.suffix != ".py":
        return False
    tree = ast.parse(origin.read_text(encoding="utf-8"))
    return attribute in top_level_names(tree)


def top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


# --- checking a page -------------------------------------------------------------------


def page_problems(page: Page) -> list[str]:
    """Every command, module, path and link of a page that does not exist, with its line."""
    problems: list[str] = []
    for first_line, block in page.shell_blocks():
        for offset, line in enumerate(logical_lines(block)):
            where = f"{page.name}:{first_line + offset}"
            for words in simple_commands(line):
                problems += [f"{where}: {p}" for p in command_problems(words)]
    for line, child in page.inline():
        where = f"{page.name}:{line}"
        if child.type == "code_inline":
            problems += [f"{where}: {p}" for p in inline_code_problems(child.content)]
        elif child.type == "link_open":
            problem = link_problem(page, str(child.attrs.get("href", "")))
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


def logical_lines(block: str) -> list[str]:
    """The block's lines, with each backslash continuation and multi-line quote kept whole,
    each at the index of the line it starts on (the rest become empty strings)."""
    lines = block.split("\n")
    merged: list[str] = []
    current: list[str] = []
    for line in lines:
        current.append(line)
        joined = "\n".join(current)
        if line.endswith("\\") or not balanced(joined):
            continue
        merged.append(joined)
        merged.extend([""] * (len(current) - 1))
        current = []
    if current:
        merged.append("\n".join(current))
    return merged


def balanced(text: str) -> bool:
    try:
        simple_commands(text)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def inline_code_problems(code: str) -> list[str]:
    code = code.strip()
    if COMMAND_START.match(code + " "):
        try:
            commands = simple_commands(code)
        except ValueError:
            return [f"cannot parse the command `{code}`"]
        return [p for words in commands for p in command_problems(words)]
    if DOTTED_NAME.fullmatch(code) and not dotted_name_exists(code):
        return [f"`{code}`: no such module or name"]
    if " " not in code:
        return [f"no such path: {p}" for p in missing_paths([code])]
    return []


def link_problem(page: Page, href: str) -> str | None:
    if not href or re.match(r"[a-z][a-z0-9+.-]*:", href):  # http:, mailto:...
        return None
    target, _, anchor = href.partition("#")
    path = (page.path.parent / target).resolve()
    if target and not path.exists():
        return f"link to {href}: {target} does not exist"
    linked = load(path) if target else page
    if anchor and linked.path.suffix == ".md" and anchor not in linked.anchors():
        return f"link to {href}: {linked.name} has no heading #{anchor}"
    return None


# --- the generated pages -----------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """A page whose block between two markers is generated, and how."""

    page: Path
    name: str

    @property
    def markers(self) -> tuple[str, str]:
        return f"<!-- {self.name}:begin -->", f"<!-- {self.name}:end -->"

    def block(self) -> str:
        text = self.page.read_text(encoding="utf-8")
        begin, end = self.markers
        start, stop = text.find(begin), text.find(end)
        assert 0 <= start < stop, f"{self.page.name} lacks its {begin} ... {end} markers"
        return text[start : stop + len(end)]

    def write(self, body: str) -> None:
        text = self.page.read_text(encoding="utf-8")
        begin, end = self.markers
        note = f"<!-- Generated by `{REGENERATE}`: edit the sources, not this block. -->"
        self.page.write_text(
            text.replace(self.block(), "\n".join([begin, note, "", body, "", end])),
            encoding="utf-8",
        )


COMMANDS = Generated(COMMANDS_PAGE, "commands")
LAYOUT = Generated(LAYOUT_PAGE, "modules")
# The order a reader meets the machinery's parts in; a new subpackage goes after these.
SUBPACKAGE_ORDER = ("core", "pipeline", "ci", "release", "serving", "monitoring", "onboarding")


def render_commands() -> str:
    """docs/commands.md's tables: the Makefile's ``## `` comments and ``tabpipe --help``."""
    lines = [
        "## make targets",
        "",
        "| command | what it does |",
        "|---|---|",
        *(f"| `make {t}` | {cell(purpose)} |" for t, purpose in documented_make_targets()),
    ]
    section = None
    for name, command, purpose in subcommands():
        if name != section:
            section = name
            lines += ["", f"## tabpipe {name}", "", "| command | what it does |", "|---|---|"]
        purpose = re.sub(r"^(?:Stage )?``[^`]+``: ", "", purpose)
        lines.append(f"| `tabpipe {command}` | {cell(purpose[:1].upper() + purpose[1:])} |")
    return "\n".join(lines)


def machinery_modules() -> dict[str, list[Path]]:
    """The machinery's modules by subpackage ("" for the top level), in reading order."""
    found: dict[str, list[Path]] = {}
    for path in sorted(MACHINERY.rglob("*.py")):
        package = path.parent.relative_to(MACHINERY).as_posix().replace(".", "")
        if path.name != "__init__.py" or not package:
            found.setdefault(package, []).append(path)
    rank = {name: i for i, name in enumerate(("", *SUBPACKAGE_ORDER))}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def summary(path: Path) -> str:
    """The first sentence of a module's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    return re.split(r"(?<=[.?!])\s", paragraph, maxsplit=1)[0]


def render_layout() -> str:
    """docs/layout.md's tables: every module of src/tabpipe with its docstring's first line."""
    lines: list[str] = []
    for package, modules in machinery_modules().items():
        folder = f"src/tabpipe/{package}/" if package else "src/tabpipe/"
        if package:
            lines += ["", f"### `{folder}`", "", cell(summary(MACHINERY / package / "__init__.py"))]
        lines += ["", "| module | what it does |", "|---|---|"]
        for path in modules:
            relative = path.relative_to(ROOT).as_posix()
            lines.append(f"| `{relative}` | {cell(summary(path))} |")
    return "\n".join(lines).strip("\n")


def cell(text: str) -> str:
    return text.replace("``", "`").replace("|", "\\|")


# --- tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_command_module_path_and_link_in_the_page_exists(path: Path):
    problems = page_problems(load(path))
    assert not problems, "the docs name what does not exist:\n" + "\n".join(problems)


FAKE_DOC = """\
# A page

## Run it

```bash
make run && make no-such-target
.venv/bin/tabpipe validate; tabpipe no-such-command --flag
OMP_NUM_THREADS=1 python -m tabpipe.ci.report --base main
python -m tabpipe.no_such_module
pytest tests/no_such_test.py
```

```console
$ make test-fast
make this-is-output-not-a-command
$ tabpipe \\
    ghost-command
```

Inline: `make phantom`, `tabpipe monitor`, `tabpipe.core.paths.PROJECT_RECORD`,
`tabpipe.core.paths.NO_SUCH_NAME`, `src/tabpipe/no_such.py`, `tests/test_docs.py`.

[fine](#run-it), [no anchor](#nowhere), [no file](no-such-page.md), [web](https://example.com).
"""


def test_the_check_finds_each_kind_of_missing_thing_in_a_fake_doc():
    fake = DOCS / "fake-page-for-the-test.md"  # a docs/ page, so links resolve as for others
    page = Page(fake, FAKE_DOC)
    problems = [p.split(": ", 1)[1] for p in page_problems(page)]
    assert problems == [
        "make no-such-target: no such target in the Makefile",
        "tabpipe no-such-command: no such subcommand in tabpipe.cli",
        "python -m tabpipe.no_such_module: no such module",
        "no such path: tests/no_such_test.py",
        "tabpipe ghost-command: no such subcommand in tabpipe.cli",
        "make phantom: no such target in the Makefile",
        "`tabpipe.core.paths.NO_SUCH_NAME`: no such module or name",
        "no such path: src/tabpipe/no_such.py",
        "link to #nowhere: docs/fake-page-for-the-test.md has no heading #nowhere",
        "link to no-such-page.md: no-such-page.md does not exist",
    ]
    lines = [int(p.split(": ", 1)[0].rsplit(":", 1)[1]) for p in page_problems(page)]
    assert lines == [6, 7, 9, 10, 16, 20, 21, 21, 23, 23]


def test_a_command_split_over_lines_is_read_whole():
    block = "tabpipe simulate --kind clean \\\n  --out x.csv\ncurl -d '{\"a\":\n 1}' && make run\n"
    commands = [c for line in logical_lines(block) for c in simple_commands(line)]
    assert commands == [
        ["tabpipe", "simulate", "--kind", "clean", "--out", "x.csv"],
        ["curl", "-d", '{"a":\n 1}'],
        ["make", "run"],
    ]


def test_anchors_follow_github():
    text = "# Walkthrough 1: new data → retrain\n## `make run` does\n## A\n## A\n"
    page = Page(DOCS / "x.md", text)
    assert page.anchors() == {"walkthrough-1-new-data--retrain", "make-run-does", "a", "a-1"}


def test_the_readme_links_every_docs_page():
    linked = {
        (README.parent / str(child.attrs["href"]).partition("#")[0]).resolve()
        for _, child in load(README).inline()
        if child.type == "link_open" and not str(child.attrs["href"]).startswith(("http", "#"))
    }
    pages = {p.resolve() for p in DOCS.glob("*.md")} - {(ROOT / PROJECT_RECORD).resolve()}
    unlinked = sorted(p.relative_to(ROOT).as_posix() for p in pages - linked)
    assert not unlinked, f"link these from README.md's docs section: {unlinked}"


def test_the_readme_fits_on_a_reading():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


def test_the_readme_stage_table_names_each_stage_its_module_and_test():
    stages = list(yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    text = README.read_text(encoding="utf-8")
    for stage in stages:
        row = f"| `{stage}` | [`src/tabpipe/pipeline/{stage}.py`](src/tabpipe/pipeline/{stage}.py) "
        row += f"| [`tests/pipeline/test_{stage}.py`](tests/pipeline/test_{stage}.py) |"
        assert row in text, f"README's stage table lacks the row for {stage!r}: {row}"


def test_every_make_target_a_user_runs_has_a_purpose():
    documented = {t for t, _ in documented_make_targets()}
    silent = sorted(make_targets().phony - documented)
    assert not silent, f"give these Makefile targets a `## purpose` comment: {silent}"


def commands_page_problems(block: str) -> list[str]:
    """What the commands page lists that does not exist, or lacks, or lists out of order."""
    make = re.findall(r"(?m)^\| `make ([\w-]+)` \|", block)
    tabpipe = re.findall(r"(?m)^\| `tabpipe ([\w-]+)` \|", block)
    targets = [t for t, _ in documented_make_targets()]
    return [
        *listing_problems("make targets", make, targets),
        *listing_problems("subcommands", tabpipe, [*STAGES, *TOOLS]),
    ]


def layout_page_problems(block: str) -> list[str]:
    listed = re.findall(r"(?m)^\| `(src/tabpipe/[\w/]+\.py)` \|", block)
    modules = [p.relative_to(ROOT).as_posix() for ps in machinery_modules().values() for p in ps]
    return listing_problems("modules", listed, modules)


def listing_problems(what: str, listed: list[str], existing: list[str]) -> list[str]:
    problems = [f"{what}: lists {n}, which does not exist" for n in listed if n not in existing]
    problems += [f"{what}: lacks {n}" for n in existing if n not in listed]
    if not problems and listed != existing:
        problems.append(f"{what}: not in the order of their source")
    return problems


def test_the_commands_page_lists_exactly_the_make_targets_and_subcommands():
    problems = commands_page_problems(COMMANDS.block())
    assert not problems, f"docs/commands.md is stale (run `{REGENERATE}`): {problems}"


def test_the_layout_page_lists_exactly_the_modules_of_the_machinery():
    problems = layout_page_problems(LAYOUT.block())
    assert not problems, f"docs/layout.md is stale (run `{REGENERATE}`): {problems}"


def test_a_stale_generated_page_is_caught_and_regenerating_fixes_it():
    commands = render_commands()
    stale = commands.replace("| `make run` |", "| `make sprint` |").replace(
        "| `tabpipe init` |", "| `tabpipe nothing` |"
    )
    assert commands_page_problems(stale) == [
        "make targets: lists sprint, which does not exist",
        "make targets: lacks run",
        "subcommands: lists nothing, which does not exist",
        "subcommands: lacks init",
    ]
    assert commands_page_problems(commands) == []
    layout = render_layout()
    assert layout_page_problems(layout.replace("| `src/tabpipe/cli.py` |", "| x |")) == [
        "modules: lacks src/tabpipe/cli.py"
    ]
    assert layout_page_problems(layout) == []


if __name__ == "__main__":
    COMMANDS.write(render_commands())
    LAYOUT.write(render_layout())
    print(f"wrote {COMMANDS_PAGE.relative_to(ROOT)} and {LAYOUT_PAGE.relative_to(ROOT)}")
