"""clbp-chat: grounded answers about stem-cell therapy for chronic low back pain."""

from clbp_chat.answer import Engine, answer
from clbp_chat.records import Answer, Citation

__all__ = ["Answer", "Citation", "Engine", "answer"]
