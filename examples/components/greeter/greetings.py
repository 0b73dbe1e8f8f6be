"""The greetings the component knows, by language code."""

GREETINGS: dict[str, tuple[str, str]] = {
    "en": ("English", "Hello"),
    "fr": ("Français", "Bonjour"),
    "de": ("Deutsch", "Hallo"),
}
