"""The chat app: `python app.py [--port N]` serves the Gradio UI over the default index."""

from rag.ui import main

if __name__ == "__main__":
    main()
