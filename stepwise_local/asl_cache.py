"""Each state machine definition is parsed once, not once per execution.

moto's executing backend parses the ASL text of a state machine at every execution start (and
at every create): ANTLR lexes and parses it (about 100 ms for node.asl.json on this machine),
then a preprocessor turns the parse tree into the components an execution evaluates. The text
of a machine never changes between two executions, so the parse tree is kept per text, and
only the preprocessor runs per execution: every execution still gets components of its own
(they hold no state across executions, but nothing here relies on that). A definition that
does not parse is not kept, and fails as before.
"""

import threading
from typing import Any

from antlr4 import CommonTokenStream, InputStream
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
    SyntaxErrorListener,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

_original = AmazonStateLanguageParser.__dict__["parse"]
_trees: dict[str, Any] = {}
_lock = threading.Lock()
MAX_DEFINITIONS = 256  # a test stack makes a few machines; a bound keeps a long process small


def parse_tree(definition: str) -> Any:
    """The ANTLR parse tree of ``definition``, parsed once; ASLParserException if it does not
    parse (not kept)."""
    with _lock:
        tree = _trees.get(definition)
    if tree is not None:
        return tree
    errors = SyntaxErrorListener()
    parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    tree = parser.state_machine()
    if errors.errors:
        raise ASLParserException(errors=errors.errors)
    with _lock:
        if len(_trees) >= MAX_DEFINITIONS:
            _trees.clear()
        _trees[definition] = tree
    return tree


def _parse(definition: str) -> tuple[Any, Any]:
    tree = parse_tree(definition)
    return Preprocessor().visit(tree), tree


def install() -> None:
    AmazonStateLanguageParser.parse = staticmethod(_parse)


def uninstall() -> None:
    AmazonStateLanguageParser.parse = _original
    with _lock:
        _trees.clear()


def cached() -> int:
    """How many definitions are kept."""
    with _lock:
        return len(_trees)
