"""The offline image baseline (lexicon + OCR) and roles that fit the model: text in generated
pictures is read and goes through the lexicon's rules; without an OCR engine, or with a model
that reads no images, the image calls are skipped and the image channel is "not measured"."""
from __future__ import annotations

import json

import pytest

from prism_core.backends import ChatRequest
from prism_core.backends.dummy import DummyBackend
from prism_core.errors import PrismError
from prism_core.images import png_bytes
from prism_eval.attackers import ocr
from prism_eval.attackers.lexicon import LexiconBackend
from prism_eval.chain import Chain
from prism_eval.datasets_io import Post, UserInput

HAVE_OCR = ocr.engine()[0] is not None
needs_ocr = pytest.mark.skipif(not HAVE_OCR, reason="tesseract-ocr is not installed")


def sign(lines: list[str], size=(420, 200), font_size=22) -> bytes:
    """A picture with text on it (a sign / badge / screenshot), drawn with Pillow's own font."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("RGB", size, (250, 246, 235))
    d = ImageDraw.Draw(im)
    d.rectangle([8, 8, size[0] - 8, size[1] - 8], outline=(40, 60, 120), width=3)
    font = ImageFont.load_default(size=font_size)
    for i, line in enumerate(lines):
        d.text((24, 24 + i * (font_size + 12)), line, fill=(10, 10, 10), font=font)
    return png_bytes(im)


def _user(*images: bytes, text: str | None = None) -> UserInput:
    posts = [Post(f"post{i + 1}", text if i == 0 else None, img) for i, img in enumerate(images)]
    return UserInput("u1", posts)


@needs_ocr
def test_ocr_reads_rendered_text():
    text = ocr.read_text(sign(["STAFF NURSE", "Tokyo General Hospital"]), ocr.engine()[0])
    assert "NURSE" in text.upper() and "Tokyo" in text


@needs_ocr
def test_lexicon_reads_signs_and_certificates_in_pictures():
    badge = sign(["Hi, I'm a nurse", "at Tokyo Mercy Hospital"])
    cert = sign(["Master's degree in", "Public Health awarded"], font_size=20)
    req = ChatRequest.from_prompt("<user_data>\n[post1:image]\n</user_data>", images=[badge],
                                  tags={"image_id": "post1:image"})
    [g] = LexiconBackend().generate([req])
    attrs = json.loads(g.text)["attributes"]
    assert attrs["occupation"]["guesses"][0] == "nurse"
    assert attrs["occupation"]["evidence"] == ["post1:image"]
    assert "Japan" in json.dumps(attrs["location"])
    # the single prompt: several images, named by their markers in order
    single = ChatRequest.from_prompt("<user_data>\n[post1] hello [post1:image]\n[post2] "
                                     "[post2:image]\n</user_data>", images=[badge, cert])
    attrs = json.loads(LexiconBackend().generate([single])[0].text)["attributes"]
    assert attrs["education"]["guesses"][0] == "master's degree"
    assert attrs["education"]["evidence"] == ["post2:image"]


@needs_ocr
def test_image_only_chain_measures_the_image_channel():
    user = _user(sign(["Ramadan Mubarak", "from our mosque"]), text="Lovely evening.")
    lex = LexiconBackend()
    chain = Chain({"image": lex, "synthesis": lex}, variant="image-only")
    assert chain.not_measured() == {} and lex.describe()["image_reader"].startswith("OCR")
    [o] = chain.run([user])
    assert o.prediction["attributes"]["religion"]["guesses"][0] == "Islam"
    assert lex.cache_identity()["ocr"].startswith("tesseract")


def test_without_ocr_the_image_channel_is_not_measured(monkeypatch):
    monkeypatch.setenv("PRISM_OCR", "off")
    lex = LexiconBackend(faces=False)
    assert not lex.reads_images and "OCR" in lex.not_measured()["image"]
    assert "ocr" not in lex.cache_identity()
    with pytest.raises(PrismError, match="ocr=true"):
        LexiconBackend(ocr=True)
    monkeypatch.setenv("PRISM_FACES", "off")
    assert not LexiconBackend().reads_images
    user = _user(sign(["I'm a nurse"]), text="I'm a nurse and proud.")
    image_only = Chain({"image": lex, "synthesis": lex}, variant="image-only")
    [o] = image_only.run([user])
    assert o.calls == 0 and o.failure is None and not o.prediction["attributes"]
    assert image_only.not_measured() == {"image": lex.not_measured()["image"]}
    assert image_only.describe()["not_measured"] == image_only.not_measured()
    chain = Chain({r: lex for r in ("text", "image", "synthesis")})
    [o] = chain.run([user])
    assert o.calls == 2 and "image" not in o.raw            # text + synthesis, no image calls
    assert o.prediction["attributes"]["occupation"]["guesses"][0] == "nurse"
    text_only = Chain({"text": lex, "synthesis": lex}, variant="text-only")
    assert text_only.not_measured() == {}                   # no image role: nothing missing
    off = LexiconBackend(ocr=False, faces=False)
    assert "ocr=false" in off.not_measured()["image"]


class TextOnly(DummyBackend):
    """A model that reads no images (as a text-only hf model), counting what it is sent."""
    reads_images = False

    def generate(self, requests):
        self.sent = getattr(self, "sent", []) + requests
        return super().generate(requests)


def test_text_only_model_in_an_image_role_is_skipped_with_a_note(caplog):
    user = _user(b"not even an image", b"nor this", text="I'm a nurse.")
    blind = TextOnly()
    with caplog.at_level("WARNING"):
        chain = Chain({"text": blind, "image": blind, "synthesis": blind})
    assert "reads no images" in caplog.text and "image" in caplog.text
    [o] = chain.run([user])
    assert o.failure is None and not o.errors              # not a failure per image
    assert o.calls == 2 and [r.tags["role"] for r in blind.sent] == ["text", "synthesis"]
    assert "the image model" in chain.not_measured()["image"]
    single = Chain({"single": blind}, variant="single")
    [o] = single.run([user])
    req = blind.sent[-1]
    assert o.failure is None and req.tags["role"] == "single"
    assert not any(p.get("type") == "image" for m in req.messages
                   if not isinstance(m["content"], str) for p in m["content"])
    assert ":image]" not in req.text()
    assert "single model" in single.not_measured()["image"]
