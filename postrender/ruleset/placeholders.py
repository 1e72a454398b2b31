"""``{{ name }}`` placeholders in rules: params, ``--set`` values and resource built-ins.

Values are data, never code:

- in a hook's ``script`` a placeholder becomes ONE shell word, single-quoted (``'...'``, a
  ``'`` written as ``'\\''``, an empty value as ``''``); ``{{ name | words }}`` splits the value
  on whitespace and quotes each word (an empty value gives no word). The placeholder must sit
  where a shell word can: not inside quotes, a comment, a here-document, ``${...}``,
  ``$((...))`` or backquotes, and not right after ``\\`` or ``$``;
- in a ``command`` list a placeholder is plain text inside its argv element (an element is
  never split), and ``{{ name | words }}`` alone as an element gives one element per word;
- everywhere else (paths, names, durations, selectors) a value is plain text.

A value is inserted once and never read again for placeholders. ``$VAR`` and ``${VAR}`` are
shell variables of the pod and pass through untouched. docs/placeholders.md has examples.
"""

from __future__ import annotations

import re

from postrender.ruleset.model import Quoting, Slot, Template

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Literal, Mapping

    Context = Literal["text", "script", "argv"]

# ``{{ name }}`` or ``{{ name | filter }}``; the filter text is checked by ``compile_text``
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:\|\s*([^{}|]*?)\s*)?\}\}")
RESOURCE_BUILTINS = ("resource.name", "resource.namespace")
WORDS = "words"
_WORD_SEPARATORS = re.compile(r"[ \t\r\n]+")
_WHERE_HINT = ("a placeholder is filled in as one single-quoted shell word: write it outside any quotes "
               "(dir={{ x }}/sub, echo \"text: \"{{ x }}) or assign it first (x={{ x }}) and use \"$x\"")


class Issue:
    """A placeholder problem before the loader gives it a place in the rules file."""

    __slots__ = ("message", "hint")

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint

    def __repr__(self) -> str:
        return f"Issue({self.message!r})"


# --- quoting ---------------------------------------------------------------------------------

def shell_quote(value: str) -> str:
    """One POSIX shell word that stands for exactly ``value``."""
    return "'" + value.replace("'", "'\\''") + "'"


def split_words(value: str) -> list[str]:
    """The words of ``value`` for ``| words``: split on spaces, tabs, carriage returns and newlines."""
    return [word for word in _WORD_SEPARATORS.split(value) if word]


def shell_words(value: str) -> str:
    """Each word of ``value`` (``split_words``) quoted, joined by spaces ("" for no word)."""
    return " ".join(shell_quote(word) for word in split_words(value))


# --- templates ---------------------------------------------------------------------------------

def compile_text(text: str, context: Context, check_positions: bool = True) -> tuple[Template, list[Issue]]:
    """The template of one rule string, and what is wrong with its placeholders.

    ``context`` is where the string is used: ``script`` (a shell script), ``argv`` (one element
    of a ``command`` list) or ``text`` (anything else). ``check_positions``: scan a script for
    placeholders in quotes, comments and the like (off only for the package's own presets,
    whose positions the tests prove).
    """
    matches = list(PLACEHOLDER.finditer(text))
    issues: list[Issue] = []
    if not matches:
        return Template((text,)), issues
    misplaced = _misplaced(text, matches) if context == "script" and check_positions else {}
    parts: list[str | Slot] = []
    position = 0
    for match in matches:
        name, filter_text, source = match.group(1), match.group(2), match.group(0)
        quoting = Quoting.SHELL_WORD if context == "script" else Quoting.TEXT
        if filter_text is not None:
            if filter_text != WORDS:
                issues.append(Issue(f"unknown filter {filter_text!r} in {source}",
                                    f"the only filter is words: {{{{ {name} | words }}}}"))
            elif context == "script":
                quoting = Quoting.SHELL_WORDS
                if not _stands_alone(text, match.start(), match.end()):
                    issues.append(Issue(f"{source} must be a whole shell word",
                                        "put spaces around it: its value becomes several words"))
            elif context == "argv" and source == text:
                quoting = Quoting.ARGV_WORDS
            elif context == "argv":
                issues.append(Issue(f"{source} must be a whole element of the command list",
                                    f"write it as its own element: [..., \"{source}\", ...]"))
            else:
                issues.append(Issue(f"{source}: the words filter works only in script and command",
                                    f"write {{{{ {name} }}}}"))
        reason = misplaced.get(match.start())
        if reason is not None:
            issues.append(Issue(f"{source} is {reason} in the script", _WHERE_HINT))
        if match.start() > position:
            parts.append(text[position:match.start()])
        parts.append(Slot(name, quoting, source))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(tuple(parts)), issues


def fill(template: Template, values: Mapping[str, str]) -> Template:
    """The template with the slots whose names are in ``values`` filled in; the others stay.

    An ``ARGV_WORDS`` slot is left for ``elements``: it may become several elements.
    """
    parts: list[str | Slot] = []
    for part in template.parts:
        if isinstance(part, Slot) and part.name in values and part.quoting is not Quoting.ARGV_WORDS:
            part = _quoted(part, values[part.name])
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
        elif part != "":
            parts.append(part)
    return Template(tuple(parts) or ("",))


def render(template: Template, values: Mapping[str, str]) -> str:
    """The string with every slot filled in (every name must be in ``values``)."""
    return "".join(_quoted(part, values[part.name]) if isinstance(part, Slot) else part
                   for part in template.parts)


def elements(template: Template, values: Mapping[str, str]) -> list[str]:
    """The argv elements of one ``command`` element: one, or one per word for ``| words``."""
    if len(template.parts) == 1 and isinstance(template.parts[0], Slot) \
            and template.parts[0].quoting is Quoting.ARGV_WORDS:
        return split_words(values[template.parts[0].name])
    return [render(template, values)]


def fill_script(script: str, values: Mapping[str, str]) -> str:
    """A script as the loader writes it; placeholders without a value stay as written."""
    template, _ = compile_text(script, "script")
    return fill(template, values).source


def _quoted(slot: Slot, value: str) -> str:
    if slot.quoting is Quoting.SHELL_WORD:
        return shell_quote(value)
    if slot.quoting is Quoting.SHELL_WORDS:
        return shell_words(value)
    if slot.quoting is Quoting.ARGV_WORDS:
        return " ".join(split_words(value))
    return value


def _stands_alone(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before in " \t\n;&|(" and after in " \t\n;&|)"


# --- where a placeholder sits in a script --------------------------------------------------------
#
# A small scanner of POSIX shell quoting: it follows quotes, ``$(...)``, ``${...}``,
# ``$((...))``, backquotes, comments, here-documents and ``case`` patterns (whose ``)`` closes
# no parenthesis), and tells for each placeholder whether it sits where a shell word can start
# or continue. What it cannot follow (an unbalanced quote or bracket) makes every placeholder
# of the script suspect: a value must never land in a place nobody checked.

_SEPARATORS = frozenset(" \t\n;&|()")
_STOPS = {
    "command": re.compile(r"[\\'\"`$#<()\s;&|]|\{\{"),
    "double": re.compile(r"[\\\"`$]|\{\{"),
    "brace": re.compile(r"[\\'\"`$}]|\{\{"),
    "arith": re.compile(r"[\\`$()]|\{\{"),
    "backquote": re.compile(r"[\\`]|\{\{"),
}
_WHERE = {"double": "inside double quotes", "brace": "inside ${...}", "arith": "inside $((...))",
          "backquote": "inside backquotes"}
# after these words a new command starts (so ``case`` there is the keyword)
_COMMAND_STARTERS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "{", "}", "time"})


class _Frame:
    __slots__ = ("kind", "depth", "cases", "command", "word_start")

    def __init__(self, kind: str, start: int):
        self.kind = kind
        self.depth = 0  # open ( in a command frame, open ( in $((...))
        self.cases: list[str] = []  # per open ``case``: subject, in, pattern or body
        self.command = True  # the next word is in command position
        self.word_start = start  # where the current word began (command frames)


class _Unreadable(Exception):
    pass


def _misplaced(script: str, matches: list[re.Match[str]]) -> dict[int, str]:
    """Placeholder start -> why it is not at a shell word position (only the misplaced ones)."""
    starts = {match.start(): match.end() for match in matches}
    try:
        return _Scanner(script, starts).run()
    except _Unreadable as exc:
        return {start: f"in a place that cannot be checked ({exc})" for start in starts}


class _Scanner:
    def __init__(self, script: str, starts: dict[int, int]):
        self.text = script
        self.starts = starts
        self.found: dict[int, str] = {}
        self.seen: set[int] = set()
        self.stack = [_Frame("command", 0)]
        self.heredocs: list[tuple[str, bool]] = []  # (delimiter, strip leading tabs)
        self.handlers = {"command": self.command, "double": self.double, "brace": self.brace, "arith": self.arith,
                         "backquote": self.backquote}

    def mark(self, start: int, end: int, reason: str) -> None:
        for position in self.starts:
            if start <= position < end:
                self.found[position] = reason
                self.seen.add(position)

    def escape(self, position: int, reason: str | None) -> int:
        """Past a backslash and the character it escapes (a placeholder there is misplaced)."""
        end = self.starts.get(position + 1)
        if end is None:
            return position + 2
        self.mark(position + 1, position + 2, reason or "right after a backslash")
        return end

    def run(self) -> dict[int, str]:
        text, length = self.text, len(self.text)
        position = 0
        while position < length:
            frame = self.stack[-1]
            stop = _STOPS[frame.kind].search(text, position)
            if stop is None:
                if frame.kind == "command":
                    self.word_ends(frame, length)
                break
            position = stop.start()
            if text.startswith("{{", position):
                end = self.starts.get(position)
                if end is None:
                    position += 1
                    continue
                self.seen.add(position)
                reason = _WHERE.get(frame.kind)
                if reason is not None:
                    self.found[position] = reason
                position = end
                continue
            position = self.handlers[frame.kind](frame, position)
        if len(self.stack) != 1 or self.heredocs:
            raise _Unreadable("unbalanced quotes or brackets")
        for start in self.starts.keys() - self.seen:  # stepped over: nobody checked where it sits
            self.found[start] = "in a place that cannot be checked"
        return self.found

    # --- outside quotes ---------------------------------------------------------------------

    def command(self, frame: _Frame, position: int) -> int:
        if self.text[position] in _SEPARATORS:
            self.word_ends(frame, position)
            frame.word_start = self.separator(frame, position)
            return frame.word_start
        return self.word_part(frame, position)

    def word_part(self, frame: _Frame, position: int) -> int:
        text = self.text
        char = text[position]
        if char == "\\":
            return self.escape(position, None)
        if char == "'":
            return self.single(position, "inside single quotes")
        if char == '"':
            self.stack.append(_Frame("double", position + 1))
            return position + 1
        if char == "`":
            self.stack.append(_Frame("backquote", position + 1))
            return position + 1
        if char == "$":
            return self.dollar(position, in_command=True)
        if char == "#":
            if position == frame.word_start:  # a word that starts with # is a comment
                end = text.find("\n", position)
                end = len(text) if end < 0 else end
                self.mark(position, end, "in a comment")
                return end
            return position + 1
        if char == "<":
            if text.startswith("<<", position) and not text.startswith("<<<", position):
                return self.heredoc_start(position + 2)
            return position + 1
        return position + 1

    def separator(self, frame: _Frame, position: int) -> int:
        """A blank, newline, ``;``, ``&``, ``|``, ``(`` or ``)`` outside quotes; where the next word starts."""
        text = self.text
        char = text[position]
        if char == "\n":
            frame.command = True
            return self.heredoc_bodies(position + 1) if self.heredocs else position + 1
        if char == "(":
            if frame.cases and frame.cases[-1] == "pattern":
                return position + 1  # the optional ( before a case pattern
            frame.depth += 1
            frame.command = True
            return position + 1
        if char == ")":
            frame.command = True
            if frame.cases and frame.cases[-1] == "pattern":
                frame.cases[-1] = "body"
            elif frame.depth > 0:
                frame.depth -= 1
            elif len(self.stack) > 1:
                self.stack.pop()  # the end of $(...)
            else:
                raise _Unreadable("a ) that closes nothing")
            return position + 1
        if char == ";":
            frame.command = True
            if text.startswith(";;", position):
                if frame.cases and frame.cases[-1] == "body":
                    frame.cases[-1] = "pattern"
                return position + 2
            return position + 1
        if char in "&|":
            frame.command = True
        return position + 1

    def word_ends(self, frame: _Frame, position: int) -> None:
        """Keyword bookkeeping for the word that ends at ``position`` (if one does)."""
        if frame.word_start >= position:
            return
        word = self.text[frame.word_start:position]
        state = frame.cases[-1] if frame.cases else None
        if state == "subject":
            frame.cases[-1] = "in"
        elif state == "in":
            frame.cases[-1] = "pattern" if word == "in" else "in"
        elif state == "pattern":
            if word == "esac":
                frame.cases.pop()
                frame.command = False
        elif frame.command and word == "case":
            frame.cases.append("subject")
            frame.command = False
        elif frame.command and word == "esac" and state == "body":
            frame.cases.pop()
            frame.command = False
        else:
            frame.command = word in _COMMAND_STARTERS

    def single(self, position: int, reason: str, escapes: bool = False) -> int:
        text = self.text
        end = position + 1
        while True:
            end = text.find("'", end)
            if end < 0:
                raise _Unreadable("an unterminated quote")
            if escapes and _escaped(text, end):
                end += 1
                continue
            break
        self.mark(position, end, reason)
        return end + 1

    def dollar(self, position: int, in_command: bool) -> int:
        text = self.text
        if position + 1 in self.starts:
            self.mark(position + 1, position + 2, "right after $")
            return self.starts[position + 1]
        if text.startswith("$((", position):
            self.stack.append(_Frame("arith", position + 3))
            return position + 3
        if text.startswith("$(", position):
            self.stack.append(_Frame("command", position + 2))
            return position + 2
        if text.startswith("${", position):
            self.stack.append(_Frame("brace", position + 2))
            return position + 2
        if in_command and text.startswith("$'", position):
            return self.single(position + 1, "inside $'...'", escapes=True)
        return position + 1

    def heredoc_start(self, position: int) -> int:
        text = self.text
        strip = text.startswith("-", position)
        position += 1 if strip else 0
        while position < len(text) and text[position] in " \t":
            position += 1
        start = position
        while position < len(text) and text[position] not in " \t\n;&|<>()":
            if text[position] in "'\"":
                end = text.find(text[position], position + 1)
                if end < 0:
                    raise _Unreadable("an unterminated quote")
                position = end + 1
            else:
                position += 2 if text[position] == "\\" else 1
        word = text[start:position]
        if not word:
            raise _Unreadable("a here-document without a delimiter")
        self.mark(start, position, "in a here-document delimiter")
        self.heredocs.append((re.sub(r"""\\(.)|['"]""", lambda m: m.group(1) or "", word), strip))
        return position

    def heredoc_bodies(self, position: int) -> int:
        text = self.text
        for delimiter, strip in self.heredocs:
            while True:
                if position >= len(text):
                    raise _Unreadable(f"here-document {delimiter!r} is not closed")
                end = text.find("\n", position)
                end = len(text) if end < 0 else end
                line = text[position:end]
                done = (line.lstrip("\t") if strip else line) == delimiter
                if not done:
                    self.mark(position, end, "in a here-document")
                position = end + 1
                if done:
                    break
        self.heredocs = []
        return min(position, len(text))

    # --- inside quotes and expansions ----------------------------------------------------------

    def double(self, frame: _Frame, position: int) -> int:
        char = self.text[position]
        if char == "\\":
            return self.escape(position, _WHERE["double"])
        if char == '"':
            self.stack.pop()
            return position + 1
        if char == "`":
            self.stack.append(_Frame("backquote", position + 1))
            return position + 1
        return self.dollar(position, in_command=False)

    def brace(self, frame: _Frame, position: int) -> int:
        char = self.text[position]
        if char == "}":
            self.stack.pop()
            return position + 1
        if char == "\\":
            return self.escape(position, _WHERE["brace"])
        if char == "'":
            if self.stack[-2].kind == "command":
                return self.single(position, _WHERE["brace"])
            return position + 1
        if char == '"':
            self.stack.append(_Frame("double", position + 1))
            return position + 1
        if char == "`":
            self.stack.append(_Frame("backquote", position + 1))
            return position + 1
        return self.dollar(position, in_command=False)

    def arith(self, frame: _Frame, position: int) -> int:
        text = self.text
        char = text[position]
        if char == "(":
            frame.depth += 1
            return position + 1
        if char == ")":
            if frame.depth > 0:
                frame.depth -= 1
                return position + 1
            if text.startswith("))", position):
                self.stack.pop()
                return position + 2
            raise _Unreadable("an unbalanced $((")
        if char == "\\":
            return self.escape(position, _WHERE["arith"])
        if char == "`":
            self.stack.append(_Frame("backquote", position + 1))
            return position + 1
        return self.dollar(position, in_command=False)

    def backquote(self, frame: _Frame, position: int) -> int:
        if self.text[position] == "\\":
            return self.escape(position, _WHERE["backquote"])
        self.stack.pop()
        return position + 1


def _escaped(text: str, position: int) -> bool:
    """True when an odd number of backslashes precede ``position``."""
    count = 0
    while position - count - 1 >= 0 and text[position - count - 1] == "\\":
        count += 1
    return count % 2 == 1
