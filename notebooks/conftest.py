"""nbval runs the lessons in the tiny 'ci' profile unless a profile is chosen explicitly."""
import os

os.environ.setdefault("INTERP_KIT_PROFILE", "ci")
