from django import forms

from judgeapp.judging.models import Judge


class JudgeForm(forms.ModelForm):
    # Checked by the service: hosts such as http://vllm:8000/v1 (a compose service) are fine.
    base_url = forms.CharField(max_length=500, label="Base URL")
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")

    class Meta:
        model = Judge
        fields = [
            "name", "protocol", "base_url", "model", "api_key", "api_key_env", "temperature",
            "top_p", "max_tokens", "max_in_flight", "timeout_seconds", "principle_position",
            "principles_one_message_each", "structured_output",
        ]  # fmt: skip
        labels = {
            "base_url": "Base URL",
            "api_key_env": "API key from environment variable",
            "max_in_flight": "Requests in flight (all workers together)",
            "timeout_seconds": "Timeout per request (seconds)",
            "principles_one_message_each": "One principle message per principle",
        }
        help_texts = {
            "base_url": "The server's OpenAI-compatible address, e.g. http://127.0.0.1:8000/v1.",
            "api_key_env": "Instead of a stored key: the name of a variable set on the workers.",
            "temperature": "Empty: the default for the model family.",
            "top_p": "Empty: the default for the model family.",
            "max_tokens": "Empty: the default for the model family.",
            "structured_output": "llm-judge only: how the verdict's JSON schema is requested.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = [
            c for c in Judge.Protocol.choices if c[0] != Judge.Protocol.IMPORTED
        ]
        self.fields["model"].required = True
        if self.instance.pk is None:
            del self.fields["clear_api_key"]

    def settings(self) -> dict:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("api_key", "clear_api_key")
        }


class PrincipleSetForm(forms.Form):
    name = forms.CharField(max_length=100)
    principles = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One principle per line. Saving changed text adds a new version.",
    )


class RunForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=None)
    judges = forms.ModelMultipleChoiceField(
        queryset=None, widget=forms.CheckboxSelectMultiple, help_text="One run per judge."
    )
    principle_set = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="The items' own principles",
        help_text="Replaces the principles of every item.",
    )
    principles = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Or type principles",
        help_text="One per line; replaces the items' principles (and a chosen set).",
    )
    both_orders = forms.BooleanField(
        required=False, label="Judge both orders (measures position bias)"
    )
    samples = forms.IntegerField(
        min_value=1, max_value=16, initial=1, label="Samples per item and order"
    )

    def __init__(self, *args, datasets, judges, principle_sets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets
        self.fields["judges"].queryset = judges
        self.fields["principle_set"].queryset = principle_sets


class PlaygroundForm(forms.Form):
    """The conversation arrives as parallel lists (role[], content[]) from the turn editor."""

    judge = forms.ModelChoiceField(queryset=None)
    response_1 = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), strip=False)
    response_2 = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), strip=False)
    principles = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One per line."
    )
    swapped = forms.BooleanField(required=False, label="Show response 2 first")

    def __init__(self, *args, judges, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judge"].queryset = judges
