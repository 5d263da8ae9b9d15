"""Built-in TRL + PEFT trainers (SFT, DPO), run only behind the manifest gate."""
