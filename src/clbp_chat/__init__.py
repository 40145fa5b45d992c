"""clbp-chat: grounded answers about stem-cell therapy for chronic low back pain.

The exports load on first use (PEP 562), so importing a submodule, or running ``clbp-chat --help``,
does not pull in the pipeline and its libraries.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clbp_chat.answer import Engine, answer
    from clbp_chat.records import Answer, Citation

__all__ = ["Answer", "Citation", "Engine", "answer"]

_HOME = {
    "Answer": "clbp_chat.records",
    "Citation": "clbp_chat.records",
    "Engine": "clbp_chat.answer",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'clbp_chat' has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)


class _Package(ModuleType):
    """``clbp_chat.answer`` is the function, as documented, even after the submodule of the same
    name is imported (the import system then sets the package's attribute to the module)."""

    @property
    def answer(self) -> Any:
        return import_module("clbp_chat.answer").answer

    @answer.setter
    def answer(self, _module: ModuleType) -> None:
        """The import system records the submodule here; the function stays the export."""


sys.modules[__name__].__class__ = _Package
