"""Settings that let a barely-trained tiny model get through the generators quickly."""

#: self-instruct: short prompts and samples, no length or quality bar (the model writes gibberish)
FAST_INSTRUCTIONS = dict(
    prompts_per_round=4,
    seed_tasks_per_prompt=2,
    machine_tasks_per_prompt=0,
    max_new_tokens=12,
    min_new_tokens=4,
    min_words=1,
    min_letter_ratio=0.0,
    quality_threshold=0.0,
)
FAST_RESPONSES = dict(max_new_tokens=8, batch_size=4)
PROVENANCE_KEYS = {"plugin", "plugin_version", "prompt_template_sha256", "seed", "round", "model_id", "model_revision"}
