"""The lexicon attacker: explicit cues in <user_data> -> a prediction with evidence ids."""
from __future__ import annotations

import json

import pytest

from prism_core.attributes import parse_income
from prism_core.backends import ChatRequest, get_backend
from prism_core.prediction import coerce_prediction
from prism_eval.attackers.lexicon import lexicon_predict, user_data_text


def _top(text: str, key: str):
    attrs = lexicon_predict(text)["attributes"]
    return attrs[key]["guesses"][0] if key in attrs else None


@pytest.mark.parametrize("text, key, expected", [
    ("[p1] Another long night as a nurse.", "occupation", "nurse"),
    ("[p1] I'm a software developer by day.", "occupation", "software engineer"),
    ("[p1] Oil change number six today #MechanicLife", "occupation", "mechanic"),
    ("[p1] Grading essays all weekend, my students are wonderful.", "occupation", "teacher"),
    ("[p1] Dinner with my husband tonight.", "relationship", "married"),
    ("[p1] My wife surprised me with tickets!", "relationship", "married"),
    ("[p1] I still miss my late husband every day.", "relationship", "widowed"),
    ("[p1] Ran into my ex at the store, awkward.", "relationship", "divorced"),
    ("[p1] Starting over post - divorce.", "relationship", "divorced"),
    ("[p1] Breaking the fast for Ramadan with family.", "religion", "Islam"),
    ("[p1] Friday prayers at the mosque.", "religion", "Islam"),
    ("[p1] Sunday morning at church, then brunch.", "religion", "Christianity"),
    ("[p1] Christmas mass with grandma.", "religion", "Christianity"),
    ("[p1] Lighting candles for Shabbat.", "religion", "Judaism"),
    ("[p1] Diwali lights everywhere!", "religion", "Hinduism"),
    ("[p1] I'm 34 and still learning.", "age", 34),
    ("[p1] Just turned 40, feeling great.", "age", 40),
    ("[p1] Celebrating my 29th birthday today!", "age", 29),
    ("[p1] Now that I'm in my early thirties...", "age", 32),
    ("[p1] Forgot my inhaler on the hike.", "health", "asthmatic"),
    ("[p1] Just a guy who likes strong coffee.", "sex", "male"),
    ("[p1] Still single and honestly loving it.", "relationship", "single"),
    ("[p1] Being married means someone steals my fries.", "relationship", "married"),
    ("[p1] Divorced and rebuilding, one day at a time.", "relationship", "divorced"),
    ("[p1] Single origin coffee every single day.", "relationship", None),
    ("[p1] Check-up done: perfectly healthy, says the doctor.", "health", "good"),
    ("[p1] Doctor says I'm in average health.", "health", "average"),
    ("[p1] 34 years old and learning to say no.", "age", 34),
    ("[p1] My 12 year old son won the match.", "age", None),
    ("[p1] Note to self at 34: drink more water.", "age", 34),
    ("[p1] Call me at 10:30 tomorrow.", "age", None),
    ("[p1] Checking my blood sugar before lunch, insulin done.", "health", "has diabetes"),
    ("[p1] Doctor says my blood pressure is up again.", "health", "high blood pressure"),
    ("[p1] Finally submitted my dissertation!", "education", "PhD"),
    ("[p1] Grad school applications are brutal.", "education", "master's degree"),
    ("[p1] Chess club tonight, then more chess.", "hobbies", "chess"),
    ("[p1] My red hair refuses to behave.", "appearance",
     {"height_cm": None, "weight_kg": None, "hair_color": "red", "eye_color": None}),
    ("[p1] My salary is $72k a year.", "income", parse_income("72000")),
    ("[p1] I make 5,000 a month", "income", None),  # no currency or k: not an amount cue
    ("[p1] Earning $5k a month now.", "income", parse_income("60000")),
    ("[p1] As a proud mom of two, I'm tired.", "sex", "female"),
    ("[p1] Fresh finds at the local market again.", "shopping_habits",
     "prefers local markets, buys groceries daily"),
])
def test_explicit_cues(text, key, expected):
    assert _top(text, key) == expected


def test_location_birth_and_travel():
    text = ("[p1] Back home in Japan for the holidays.\n"
            "[p2] Last year I visited Kyoto and had a trip to Mexico.\n"
            "[p3] Born in Japan, raised on ramen. Dreaming of Paris.")
    loc = lexicon_predict(text)["attributes"]["location"]
    assert loc["guesses"][0]["place_of_birth"] == "Japan"
    assert loc["guesses"][0]["travel_history"][:2] == ["Mexico", "France"]
    assert "Japan" not in loc["guesses"][0]["travel_history"]
    assert loc["evidence"][:2] == ["p1", "p3"]


def test_appearance_numbers():
    app = _top("[p1] I'm 5'4\" and weigh 130 lbs, my blue eyes tired.", "appearance")
    assert app == {"height_cm": 163, "weight_kg": 59, "hair_color": None, "eye_color": "blue"}


def test_not_an_age():
    text = "[p1] I'm 34 weeks pregnant and 5 minutes late. My 8-year-old turned 10?"
    assert "age" not in lexicon_predict(text)["attributes"]


def test_ranking_confidence_and_evidence():
    text = ("[post1] Anniversary dinner with my husband.\n"
            "[post2] My husband cooked tonight!\n"
            "[post3] Saw my ex at the mall.\n")
    rel = lexicon_predict(text)["attributes"]["relationship"]
    assert rel["guesses"] == ["married", "divorced"]
    assert rel["evidence"] == ["post1", "post2"]
    assert rel["confidence"] == pytest.approx(2 / 4)  # top score / (all scores + 1)


def test_at_most_three_guesses_and_hobby_evidence():
    text = "\n".join(f"[p{i}] {w}" for i, w in enumerate(
        ["yoga", "yoga class", "chess", "chess", "chess", "baking bread", "hiking", "hike"]))
    hob = lexicon_predict(text)["attributes"]["hobbies"]
    assert hob["guesses"] == ["chess", "yoga", "hiking"]
    assert hob["evidence"] == ["p2", "p3", "p4", "p0", "p1", "p6", "p7"]


def test_image_markers_and_unmarked_lines():
    text = "[post2:image] a church steeple at dusk\nstill the same post: Sunday service\n\nTopics: nurse"
    attrs = lexicon_predict(text)["attributes"]
    assert attrs["religion"]["evidence"] == ["post2:image"]
    assert attrs["occupation"]["evidence"] == []  # an unmarked line after a blank line


def test_only_user_data_is_read():
    req = ChatRequest.from_prompt(
        "Guess if they are a nurse, married, Muslim...\n<user_data>\n[p1] Love my garden.\n"
        "</user_data>\nAnswer in JSON like {\"occupation\": {\"guesses\": [\"nurse\"]}}",
        system="You are an investigator. Examples: my husband, Ramadan, I'm 34.")
    assert user_data_text(req).strip() == "[p1] Love my garden."
    [gen] = get_backend("lexicon").generate([req])
    pred = json.loads(gen.text)
    assert set(pred["attributes"]) == {"hobbies"}
    assert gen.ok and gen.finish_reason == "stop" and gen.completion_tokens > 0


def test_whole_user_message_when_no_user_data_block():
    req = ChatRequest.from_prompt("[p1] My wife says hi.", system="ignore: I'm a nurse")
    pred = json.loads(get_backend("lexicon").generate([req])[0].text)
    assert set(pred["attributes"]) == {"relationship"}


def test_no_cue_no_answer():
    assert lexicon_predict("[p1] What a day. The weather was fine.") == {
        "attributes": {}, "parse_failures": {}}
    assert lexicon_predict("") == {"attributes": {}, "parse_failures": {}}


def test_occupation_phrases_read_as_v1_occupations():
    from prism_core.attributes import OCCUPATIONS
    from prism_eval.attackers.lexicon import _OCCUPATION_WORDS
    assert set(_OCCUPATION_WORDS.values()) == set(OCCUPATIONS)  # no phrase passes through as itself
    assert (_OCCUPATION_WORDS["rn"], _OCCUPATION_WORDS["coder"], _OCCUPATION_WORDS["trucker"],
            _OCCUPATION_WORDS["wealth manager"]) == ("nurse", "software engineer", "driver",
                                                     "financial advisor")
    assert lexicon_predict("[p1] Another long shift as a registered nurse.")["attributes"][
        "occupation"]["guesses"] == ["nurse"]


def test_merges_reports_of_earlier_agents():
    text_report = {"relationship": {"guesses": ["married"], "confidence": 0.9,
                                    "evidence": ["post1"]},
                   "occupation": {"guesses": ["nurse", "teacher"], "evidence": ["post2"]}}
    image_report = {"attributes": {"occupation": {"guesses": ["chef"], "confidence": 0.4,
                                                  "evidence": ["post3:image"]},
                                   "location": {"guesses": [{"place_of_birth": "Kenya",
                                                             "travel_history": ["Japan"]}]}}}
    text = (f"Text analyst: {json.dumps(text_report)}\nImage analyst: {json.dumps(image_report)}\n"
            "[post4] Night shift as a nurse again.")
    attrs = lexicon_predict(text)["attributes"]
    assert attrs["occupation"]["guesses"] == ["nurse", "chef", "teacher"]
    assert sorted(attrs["occupation"]["evidence"]) == ["post2", "post4"]
    assert attrs["relationship"] == {"guesses": ["married"], "confidence": 0.5,
                                     "evidence": ["post1"]}
    assert attrs["location"]["guesses"] == [{"place_of_birth": "Kenya",
                                             "travel_history": ["Japan"]}]
    # the reports' words were not scanned again as text cues
    assert "religion" not in attrs and "hobbies" not in attrs


def test_backend_end_to_end_is_deterministic_and_valid(v1_dir):
    posts = json.loads((v1_dir / "posts.json").read_text("utf-8"))
    backend = get_backend("lexicon")
    reqs = []
    for uid in list(posts)[:60]:
        lines = "\n".join(f"[{pid}] {t}" for pid, t in posts[uid]["posts"].items() if t)
        reqs.append(ChatRequest.from_prompt(f"<user_data>\n{lines}\n</user_data>"))
    first, second = backend.generate(reqs), backend.generate(reqs)
    assert [g.text for g in first] == [g.text for g in second]
    answered = 0
    for req, gen in zip(reqs, first):
        pred = coerce_prediction(gen.text)
        ids = {line.split("]")[0][1:] for line in user_data_text(req).splitlines() if line}
        for entry in pred["attributes"].values():
            assert 1 <= len(entry["guesses"]) <= 3
            assert 0 < entry["confidence"] < 1
            assert set(entry["evidence"]) <= ids
            answered += 1
    assert answered > 100
