from django import forms

from judgeapp.reports import metrics
from judgeapp.reports.data import HUMANS

TIE_POLICY_TEXT = {
    "strict": "strict: a tie is a third class",
    "ignore": "ignore: items the humans call a tie are left out",
    "half": "half: a tie against a side scores one half",
}
HUMANS_TEXT = {
    "all": "all labels (campaigns and imported)",
    "campaign": "campaign labels only",
    "imported": "imported labels only",
}


class ReportForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=None, required=False)
    campaign = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Instead of a whole dataset: a campaign's items."
    )
    judges = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every judge with verdicts on the items.",
    )  # fmt: skip
    humans = forms.ChoiceField(choices=[(h, HUMANS_TEXT[h]) for h in HUMANS], initial="all")
    tie_policy = forms.ChoiceField(
        choices=[(p, TIE_POLICY_TEXT[p]) for p in metrics.TIE_POLICIES], initial="strict"
    )
    breakdown = forms.CharField(
        required=False,
        label="Break down by metadata keys",
        help_text="Comma-separated keys of the items' metadata, e.g. domain, language.",
    )
    resamples = forms.IntegerField(
        min_value=0, max_value=10_000, initial=1000, label="Bootstrap resamples"
    )
    seed = forms.IntegerField(initial=0, min_value=0)

    def __init__(self, *args, datasets, campaigns, judges, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = datasets
        self.fields["campaign"].queryset = campaigns
        self.fields["judges"].queryset = judges

    def clean(self):
        data = super().clean()
        if not data.get("dataset") and not data.get("campaign"):
            raise forms.ValidationError("Pick a dataset or a campaign.")
        campaign = data.get("campaign")
        if campaign and data.get("dataset") and campaign.dataset_id != data["dataset"].pk:
            self.add_error("campaign", "This campaign is over another dataset.")
        data["breakdown_keys"] = [
            k.strip() for k in data.get("breakdown", "").split(",") if k.strip()
        ]
        return data
