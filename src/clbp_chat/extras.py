"""Optional parts of clbp-chat and the pip extra that installs each.

A serving process needs neither: the eval harness draws charts (matplotlib) and runs the tutorial
baseline (langchain-chroma), and the embedding model is exported to ONNX once (onnx; without it
the model runs on sentence-transformers, the same vectors, slower). A missing part is one line
that names the extra to install.
"""

from __future__ import annotations

from importlib import import_module

from clbp_chat.errors import ClbpError

# Module -> the extra in pyproject.toml that installs it.
EXTRAS = {"matplotlib": "eval", "langchain_chroma": "eval", "onnx": "onnx"}


class MissingExtra(ClbpError):
    """An optional dependency is not installed; the message names the extra."""


def install_hint(module: str) -> str:
    """The command that installs ``module``'s extra."""
    return f"pip install 'clbp-chat[{EXTRAS[module]}]'"


def require(module: str, purpose: str) -> None:
    """Raise :class:`MissingExtra` naming the extra when ``module`` cannot be imported."""
    try:
        import_module(module)
    except ImportError:
        raise MissingExtra(f"{purpose} needs {module}: {install_hint(module)}") from None
