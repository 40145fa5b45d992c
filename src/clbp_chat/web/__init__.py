"""The web front ends: HTTP API, Gradio chat UI and the embeddable widget, in one FastAPI app."""
