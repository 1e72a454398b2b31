"""A small, static reader of POSIX shell scripts for the lint checks: never runs anything.

Two things are read from a hook script:

- the quoting context of every ``{{ name }}`` placeholder (plain word, inside ``'...'``,
  ``"..."``, ``$'...'``, a here-document body or a comment), because placeholders are filled
  in already shell-quoted;
- the structure of the commands (lists, and-or lists, pipelines, ``if``/``for``/``while``/
  ``until``/``case``, ``{ }``, ``( )``, functions), enough to tell how the script can end.

It is deliberately forgiving: text it cannot read makes ``parse`` return None, and the
checks then say nothing (``sh -n`` reports real syntax errors).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Union

from postrender.ruleset.placeholders import PLACEHOLDER  # ``{{ name }}`` and ``{{ name | filter }}``

PLAIN, SINGLE, DOUBLE, ANSI_C, HEREDOC, COMMENT, BACKTICK, PARAMETER, ARITHMETIC = (
    "plain", "single-quoted", "double-quoted", "$'...'-quoted", "here-document", "comment", "backquoted",
    "${...}", "$((...))")

_META = set(" \t\n;&|()<>")
_OPERATORS = ("&&", "||", ";;", "<<-", "<<", ">>", "<&", ">&", "<>", ">|", "&", "|", ";", "(", ")", "<", ">")
_REDIRECTIONS = {"<<-", "<<", ">>", "<&", ">&", "<>", ">|", "<", ">"}
_RESERVED_END = {"then", "elif", "else", "fi", "do", "done", "esac", "}"}


class ShellSyntax(Exception):
    """The script is not something this reader follows (the checks then stay silent)."""


@dataclass(frozen=True)
class PlaceholderUse:
    name: str
    text: str  # the placeholder as written
    offset: int  # in the script
    line: int  # 1-based line in the script
    context: str  # PLAIN or where else it sits: SINGLE, DOUBLE, ANSI_C, HEREDOC, COMMENT, BACKTICK, ...


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "op" or "newline"
    text: str  # a word as written (quotes kept), or the operator
    line: int


@dataclass
class Simple:
    words: list[str]
    line: int

    @property
    def name(self) -> str:
        """The command name with simple quoting removed (``'['`` reads as ``[``)."""
        return unquote(self.words[0]) if self.words else ""

    def text(self, limit: int = 60) -> str:
        joined = " ".join(self.words)
        return joined if len(joined) <= limit else joined[: limit - 3] + "..."


@dataclass
class Compound:
    kind: str  # "if", "for", "while", "until", "case", "brace", "subshell", "function"
    bodies: list[list[AndOr]]  # the lists whose last command gives the compound's status
    line: int


Command = Union[Simple, Compound]


@dataclass
class Pipeline:
    commands: list[Command]
    negated: bool = False

    @property
    def line(self) -> int:
        return self.commands[0].line if self.commands else 0


@dataclass
class AndOr:
    pipelines: list[Pipeline]
    operators: list[str] = field(default_factory=list)  # "&&" or "||" between pipelines
    background: bool = False  # ended with ``&``: its status is 0


def unquote(word: str) -> str:
    """A word without its quote characters (enough to read a command name)."""
    return re.sub(r"""\\(.)|['"]""", lambda m: m.group(1) or "", word)


class _Lines:
    """Line numbers of offsets in one text, in logarithmic time (scripts can be long)."""

    def __init__(self, text: str):
        self.breaks = [index for index, char in enumerate(text) if char == "\n"]

    def at(self, offset: int) -> int:
        return bisect.bisect_left(self.breaks, offset) + 1


# --- the lexer --------------------------------------------------------------------------------

class _Lexer:
    """Tokens of a script, and every placeholder with its quoting context on the way."""

    def __init__(self, script: str, lines: _Lines | None = None):
        self.text = script
        self.lines = lines or _Lines(script)
        self.pos = 0
        self.tokens: list[Token] = []
        self.placeholders: list[PlaceholderUse] = []
        self.pending_heredocs: list[tuple[str, bool]] = []  # (delimiter, strip leading tabs)

    # placeholders ----------------------------------------------------------------------------
    def _placeholder(self, context: str) -> bool:
        found = PLACEHOLDER.match(self.text, self.pos)
        if found is None:
            return False
        self.placeholders.append(PlaceholderUse(found.group(1), found.group(0), self.pos,
                                                self.lines.at(self.pos), context))
        self.pos = found.end()
        return True

    # the token loop ----------------------------------------------------------------------------
    def run(self, stop: str | None = None) -> None:
        """Read tokens up to the end, or up to an unmatched ``stop`` character (``)`` of ``$(``)."""
        text = self.text
        depth = 0
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t":
                self.pos += 1
            elif char == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif char == "#":
                self._comment()
            elif char == "\n":
                self.tokens.append(Token("newline", "\n", self.lines.at(self.pos)))
                self.pos += 1
                self._heredoc_bodies()
            elif stop is not None and char == stop and depth == 0:
                return
            elif char in _META:
                operator = next(op for op in _OPERATORS if text.startswith(op, self.pos))
                if operator == "(":
                    depth += 1
                elif operator == ")":
                    depth -= 1
                self.tokens.append(Token("op", operator, self.lines.at(self.pos)))
                self.pos += len(operator)
                if operator in ("<<", "<<-"):
                    self._heredoc_start(strip=operator == "<<-")
            else:
                start = self.pos
                self._word()
                self.tokens.append(Token("word", text[start:self.pos], self.lines.at(start)))
        if stop is not None:
            raise ShellSyntax(f"no closing {stop}")

    def _comment(self) -> None:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        while self.pos < end:
            if not self._placeholder(COMMENT):
                self.pos += 1

    def _word(self, context: str = PLAIN) -> None:
        """One word from ``pos``: quotes, escapes, expansions and placeholders, up to a metacharacter."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if self._placeholder(context):
                continue
            if char in _META:
                return
            if char == "\\":
                self.pos += 2
            elif char == "'":
                self._single(SINGLE)
            elif char == '"':
                self._double()
            elif char == "`":
                self._backquote()
            elif char == "$":
                self._dollar(context)
            else:
                self.pos += 1

    def _single(self, context: str) -> None:
        text = self.text
        self.pos += 1
        while self.pos < len(text):
            if self._placeholder(context):
                continue
            char = text[self.pos]
            if context == ANSI_C and char == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if char == "'":
                return
        raise ShellSyntax("unterminated quote")

    def _double(self) -> None:
        text = self.text
        self.pos += 1
        while self.pos < len(text):
            if self._placeholder(DOUBLE):
                continue
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\":
                self.pos += 2
            elif char == "`":
                self._backquote()
            elif char == "$":
                self._dollar(DOUBLE)
            else:
                self.pos += 1
        raise ShellSyntax("unterminated double quote")

    def _dollar(self, context: str) -> None:
        text = self.text
        if text.startswith("$((", self.pos):
            self.pos += 3
            self._nested(")", ARITHMETIC)  # arithmetic: ``$(( ... ))``
            if not text.startswith(")", self.pos):
                raise ShellSyntax("unterminated $((")
            self.pos += 1
        elif text.startswith("$(", self.pos):
            self.pos += 2
            self._nested(")", PLAIN)
        elif text.startswith("${", self.pos):
            self.pos += 2
            self._parameter(PARAMETER if context == PLAIN else context)
        elif text.startswith("$'", self.pos) and context == PLAIN:
            self.pos += 1
            self._single(ANSI_C)
        else:
            self.pos += 1

    def _nested(self, stop: str, context: str) -> None:
        """The inside of ``$( )``: a script of its own, whose quoting starts afresh (or an arithmetic
        expression, where every placeholder is in the ``context`` given)."""
        inner = _Lexer(self.text, self.lines)
        inner.pos = self.pos
        inner.run(stop=stop)
        self.placeholders.extend(use if context == PLAIN or use.context != PLAIN else
                                 PlaceholderUse(use.name, use.text, use.offset, use.line, context)
                                 for use in inner.placeholders)
        self.pos = inner.pos + 1

    def _parameter(self, context: str) -> None:
        """``${name...}``: a placeholder there is expanded again (split, globbed, or quoted twice)."""
        text = self.text
        while self.pos < len(text):
            if self._placeholder(context):
                continue
            char = text[self.pos]
            if char == "}":
                self.pos += 1
                return
            if char == "\\":
                self.pos += 2
            elif char == "'" and context == PARAMETER:
                self._single(SINGLE)
            elif char == '"':
                self._double()
            elif char == "$":
                self._dollar(context)
            else:
                self.pos += 1
        raise ShellSyntax("unterminated ${")

    def _backquote(self) -> None:
        text = self.text
        self.pos += 1
        while self.pos < len(text):
            if self._placeholder(BACKTICK):
                continue
            char = text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if char == "`":
                return
        raise ShellSyntax("unterminated backquote")

    # here-documents -------------------------------------------------------------------------
    def _heredoc_start(self, strip: bool) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos] in " \t":
            self.pos += 1
        start = self.pos
        self._word()
        delimiter = unquote(text[start:self.pos])
        if not delimiter:
            raise ShellSyntax("here-document without a delimiter")
        self.tokens.append(Token("word", text[start:self.pos], self.lines.at(start)))
        self.pending_heredocs.append((delimiter, strip))

    def _heredoc_bodies(self) -> None:
        text = self.text
        for delimiter, strip in self.pending_heredocs:
            while True:
                if self.pos >= len(text):
                    raise ShellSyntax(f"here-document {delimiter!r} is not closed")
                end = text.find("\n", self.pos)
                end = len(text) if end < 0 else end
                line = text[self.pos:end]
                if (line.lstrip("\t") if strip else line) == delimiter:
                    self.pos = min(end + 1, len(text))
                    break
                while self.pos < end:
                    if not self._placeholder(HEREDOC):
                        self.pos += 1
                self.pos = min(end + 1, len(text))
        self.pending_heredocs = []


def placeholders_in(script: str) -> list[PlaceholderUse]:
    """Every placeholder of the script with its quoting context; [] when it cannot be read."""
    lexer = _Lexer(script)
    try:
        lexer.run()
    except (ShellSyntax, IndexError, RecursionError):
        return []
    return lexer.placeholders


def tokens_of(script: str) -> list[Token]:
    lexer = _Lexer(script)
    lexer.run()
    return lexer.tokens


# --- the parser ---------------------------------------------------------------------------------

class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def at(self, kind: str, *texts: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind and (not texts or token.text in texts)

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ShellSyntax("unexpected end of script")
        self.index += 1
        return token

    def expect(self, kind: str, text: str) -> Token:
        if not self.at(kind, text):
            raise ShellSyntax(f"expected {text}")
        return self.take()

    def newlines(self) -> None:
        while self.at("newline"):
            self.index += 1

    def at_end_of_list(self) -> bool:
        token = self.peek()
        if token is None:
            return True
        if token.kind == "op":
            return token.text in (")", ";;")
        return token.kind == "word" and token.text in _RESERVED_END

    def compound_list(self) -> list[AndOr]:
        result: list[AndOr] = []
        self.newlines()
        while not self.at_end_of_list():
            item = self.and_or()
            if self.at("op", ";", "&"):
                item.background = self.take().text == "&"
            elif not self.at("newline") and not self.at_end_of_list():
                raise ShellSyntax("expected the end of a command")
            result.append(item)
            self.newlines()
        return result

    def and_or(self) -> AndOr:
        item = AndOr([self.pipeline()])
        while self.at("op", "&&", "||"):
            item.operators.append(self.take().text)
            self.newlines()
            item.pipelines.append(self.pipeline())
        return item

    def pipeline(self) -> Pipeline:
        pipeline = Pipeline([])
        if self.at("word", "!"):
            self.take()
            pipeline.negated = True
        pipeline.commands.append(self.command())
        while self.at("op", "|"):
            self.take()
            self.newlines()
            pipeline.commands.append(self.command())
        return pipeline

    def command(self) -> Command:
        token = self.peek()
        if token is None:
            raise ShellSyntax("missing command")
        if token.kind == "op" and token.text == "(":
            self.take()
            body = self.compound_list()
            self.expect("op", ")")
            return self.redirections(Compound("subshell", [body], token.line))
        if token.kind == "word":
            keyword = {"{": self.brace, "if": self.if_, "for": self.for_, "while": self.loop, "until": self.loop,
                       "case": self.case}.get(token.text)
            if keyword is not None:
                return self.redirections(keyword())
        return self.simple()

    def redirections(self, command: Compound) -> Compound:
        while self.at("op") and self.peek().text in _REDIRECTIONS:  # type: ignore[union-attr]
            self.take()
            self.take()
        return command

    def simple(self) -> Command:
        line = self.peek().line  # type: ignore[union-attr]
        words: list[str] = []
        while True:
            token = self.peek()
            if token is None or token.kind == "newline":
                break
            if token.kind == "word":
                words.append(self.take().text)
            elif token.text in _REDIRECTIONS:
                self.take()
                if not self.at("word"):
                    raise ShellSyntax("redirection without a target")
                self.take()
            elif token.text == "(" and len(words) == 1:  # name() compound-command: a function definition
                self.take()
                self.expect("op", ")")
                self.newlines()
                body = self.command()
                return Compound("function", [], body.line if body else line)
            else:
                break
        if not words and not self.at("newline"):
            if self.peek() is None or self.at("op", ";", "&", "&&", "||", "|", ")", ";;"):
                raise ShellSyntax("missing command")
        return Simple(words, line)

    def brace(self) -> Compound:
        line = self.take().line
        body = self.compound_list()
        self.expect("word", "}")
        return Compound("brace", [body], line)

    def if_(self) -> Compound:
        line = self.take().line
        bodies: list[list[AndOr]] = []
        self.compound_list()  # the condition
        self.expect("word", "then")
        bodies.append(self.compound_list())
        while self.at("word", "elif"):
            self.take()
            self.compound_list()
            self.expect("word", "then")
            bodies.append(self.compound_list())
        if self.at("word", "else"):
            self.take()
            bodies.append(self.compound_list())
        self.expect("word", "fi")
        return Compound("if", bodies, line)

    def for_(self) -> Compound:
        line = self.take().line
        if not self.at("word"):
            raise ShellSyntax("for without a name")
        self.take()
        self.newlines()
        if self.at("word", "in"):
            self.take()
            while self.at("word"):
                self.take()
        if self.at("op", ";"):
            self.take()
        self.newlines()
        return Compound("for", [self.do_group()], line)

    def loop(self) -> Compound:
        token = self.take()
        self.compound_list()  # the condition
        return Compound(token.text, [self.do_group()], token.line)

    def do_group(self) -> list[AndOr]:
        self.expect("word", "do")
        body = self.compound_list()
        self.expect("word", "done")
        return body

    def case(self) -> Compound:
        line = self.take().line
        self.take()  # the word
        self.newlines()
        self.expect("word", "in")
        self.newlines()
        bodies: list[list[AndOr]] = []
        while not self.at("word", "esac"):
            if self.at("op", "("):
                self.take()
            while True:  # the patterns
                self.take()
                if self.at("op", "|"):
                    self.take()
                    continue
                break
            self.expect("op", ")")
            bodies.append(self.compound_list())
            if self.at("op", ";;"):
                self.take()
            self.newlines()
        self.take()
        return Compound("case", bodies, line)


def parse(script: str) -> list[AndOr] | None:
    """The script's top-level list of commands, or None when this reader cannot follow it."""
    try:
        parser = _Parser(tokens_of(script))
        commands = parser.compound_list()
        if parser.peek() is not None:
            return None
        return commands
    except (ShellSyntax, IndexError, StopIteration, AttributeError, RecursionError):
        return None


# --- how a script ends ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FailingCondition:
    """A test after which ``&&`` ends the script: when the test is false, so is the script's status."""

    command: Simple
    negated: bool


def failing_conditions(commands: list[AndOr], conditions: tuple[str, ...]) -> list[FailingCondition]:
    """Tests (commands named in ``conditions``) whose falseness becomes the exit status of ``commands``.

    ``[ -f x ] && restore`` as the last command exits 1 when there is no ``x``. The last
    command of a compound (``if`` branches, loop bodies, ``{ }``, ``( )``, ``case`` items) is
    followed into, since its status is the compound's.
    """
    found: list[FailingCondition] = []
    if not commands or commands[-1].background:
        return found
    last = commands[-1]
    for index, pipeline in enumerate(last.pipelines[:-1]):
        later = last.operators[index:]
        if later[0] == "&&" and "||" not in later and len(pipeline.commands) == 1:
            command = pipeline.commands[0]
            if isinstance(command, Simple) and command.name in conditions:
                found.append(FailingCondition(command, pipeline.negated))
    final = last.pipelines[-1]
    if not final.negated and isinstance(final.commands[-1], Compound):
        for body in final.commands[-1].bodies:
            found.extend(failing_conditions(body, conditions))
    return found
