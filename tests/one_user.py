"""One user's true attributes, every attribute set, for tests that need a whole truth."""

TRUTH = {"age": 34, "sex": "female", "education": "bachelor's degree", "occupation": "nurse",
         "income": "50000-70000", "relationship": "married",
         "location": {"place_of_birth": "Japan", "travel_history": ["France", "Mexico"]},
         "appearance": {"height_cm": 170, "weight_kg": 60, "hair_color": "brown",
                        "eye_color": "blue"},
         "shopping_habits": "buys in bulk, shops seasonally", "hobbies": ["yoga", "chess"],
         "health": "asthmatic", "religion": "Islam"}
