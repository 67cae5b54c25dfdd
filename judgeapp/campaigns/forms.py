from django import forms

from judgeapp.accounts.models import User
from judgeapp.campaigns import scales
from judgeapp.campaigns.models import Campaign


class CampaignForm(forms.ModelForm):
    """Set-up of a new campaign, or the settings of an existing one (no dataset then)."""

    annotators = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Team members with the annotator role.",
    )
    deadline = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Campaign
        fields = [
            "name", "dataset", "guidelines", "scale", "ask_scores", "rationale", "overlap",
            "assignment", "seed", "randomise_order", "show_model_verdicts", "gold_rate",
            "lock_minutes", "min_seconds", "deadline", "annotators",
        ]  # fmt: skip
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 10})}
        labels = {
            "ask_scores": "Ask a helpfulness score 1..5 for each response",
            "overlap": "Labels wanted per item (overlap)",
            "seed": "Seed (random order, A/B order and gold draws)",
            "randomise_order": "Randomise which response is shown first, per annotator",
            "show_model_verdicts": "Show the judges' verdicts to annotators",
            "gold_rate": "Share of gold items mixed into each queue (0..1)",
            "lock_minutes": "Minutes an item stays locked to its annotator",
            "min_seconds": "Too fast below (seconds per item)",
        }
        help_texts = {
            "guidelines": "Markdown. Shown beside every item; each saved change is a new version.",
            "overlap": "Each item is labelled by this many different annotators.",
        }

    def __init__(self, *args, datasets=None, annotators=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annotators"].queryset = (
            annotators if annotators is not None else User.objects.none()
        )
        self.fields["annotators"].label_from_instance = lambda u: u.username
        if self.instance.pk is None:
            self.fields["dataset"].queryset = datasets
            self.fields["dataset"].empty_label = None
        else:
            del self.fields["dataset"]
            self.initial["annotators"] = list(self.instance.annotators.all())
            if self.instance.assignments.exists():
                for name in ("scale", "assignment", "seed"):
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "Fixed once annotators have started."

    def settings(self) -> dict:
        skip = ("dataset", "annotators")
        return {k: v for k, v in self.cleaned_data.items() if k not in skip}


class GoldForm(forms.Form):
    gold = forms.CharField(
        required=False,
        label="Gold items",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=(
            "One per line: the item's id and the expected preference -3..3 (negative: response 1 "
            "better, 0: tie), e.g. 'item-17 -2'. Saving replaces the list."
        ),
    )


class LabelForm(forms.Form):
    """An answer on the campaign's scale, for the responses as shown (A first)."""

    answer = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect)
    score_a = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, widget=forms.RadioSelect
    )
    score_b = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, widget=forms.RadioSelect
    )
    rationale = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    seconds_spent = forms.FloatField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.choices = scales.choices(campaign.scale)
        self.fields["answer"].choices = [(c.value, c.text) for c in self.choices]
        self.fields["answer"].error_messages["required"] = "Pick an answer (number keys)."
        for name in ("score_a", "score_b"):
            self.fields[name].choices = [(n, str(n)) for n in range(1, 6)]
            self.fields[name].required = campaign.ask_scores
        if campaign.rationale == Campaign.Rationale.OFF:
            del self.fields["rationale"]
        else:
            self.fields["rationale"].required = campaign.rationale == Campaign.Rationale.REQUIRED


class AdjudicationForm(forms.Form):
    answer = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Decision")
    rationale = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        # Reviewers see the item in its own order: A = response 1.
        self.fields["answer"].choices = [
            (c.value, c.text) for c in scales.choices(campaign.scale, item_order=True)
        ]
