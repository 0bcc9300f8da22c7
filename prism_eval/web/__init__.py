"""The warning as a small local web page: paste a post, attach a picture, see what it reveals.

``prism warn --serve`` (or :func:`serve`) starts it on http://127.0.0.1:8765/ with Flask
(``pip install 'prism-privacy[web]'``). The page (``page.html``, self-contained: no script,
style or font is fetched from elsewhere) posts the draft, the optional picture and earlier posts
(one per line) to ``POST /api/warn``, which answers :meth:`prism_eval.warn.Warning.as_dict`; the
page then shows the text with each evidence span highlighted (``<mark data-attribute=...>``),
the boxes found in the picture drawn over it, and the list of findings. One
:class:`~prism_eval.warn.Warner` serves every request, so models load once.

It binds to the loopback address by default: it is a local tool, not a service.
"""
from __future__ import annotations

from importlib import resources

__all__ = ["create_app", "serve", "page_html", "MAX_UPLOAD"]

MAX_UPLOAD = 20 * 1024 * 1024


def page_html() -> str:
    return resources.files(__package__).joinpath("page.html").read_text("utf-8")


def create_app(warner=None, **warner_options):
    """The Flask app; ``warner``: a :class:`~prism_eval.warn.Warner` (else one is built from
    ``warner_options``: model, roles, backend_options)."""
    try:
        from flask import Flask, jsonify, request
    except ImportError:
        from prism_core.errors import PrismError
        raise PrismError("the warning page needs Flask: pip install 'prism-privacy[web]' (in a "
                         "clone: pip install -c constraints.txt -e '.[web]')") from None
    from prism_core.errors import PrismError

    from ..warn import Warner
    warner = warner or Warner(**warner_options)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD
    page = page_html()

    @app.get("/")
    def index():
        return page, 200, {"Content-Type": "text/html; charset=utf-8"}

    @app.post("/api/warn")
    def check():
        text = request.form.get("text", "")
        history = [line for line in request.form.get("history", "").splitlines() if line.strip()]
        upload = request.files.get("image")
        image = upload.read() if upload and upload.filename else None
        try:
            result = warner.check(text, image or None, [(h, None) for h in history])
        except PrismError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({**result.as_dict(), "message": result.message()})

    app.warner = warner
    return app


def serve(host: str = "127.0.0.1", port: int = 8765, **warner_options) -> None:
    """Serve the page until interrupted (Flask's own server: a local, one-user tool)."""
    app = create_app(**warner_options)
    print(f"prism warn: open http://{host}:{port}/ (Ctrl-C stops)")
    try:
        app.run(host=host, port=port, threaded=True)
    finally:
        app.warner.close()
