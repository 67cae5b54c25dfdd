from django import forms

from judgeapp.datasets.records import FORMATS

FORMAT_CHOICES = [("auto", "Detect from the file")] + [
    (name, {"native": "Native JSONL / JSON", "genrm": "GenRM message lists",
            "helpsteer3": "HelpSteer3 preference rows", "csv": "CSV",
            "judgments": "Judgments file (verdicts for existing items)"}[name])
    for name in FORMATS
]  # fmt: skip


class ImportForm(forms.Form):
    dataset = forms.TypedChoiceField(
        label="Into dataset", coerce=int, required=False, empty_value=None,
        help_text="An existing dataset, or leave empty and name a new one.",
    )  # fmt: skip
    new_dataset = forms.CharField(label="New dataset name", max_length=200, required=False)
    file = forms.FileField(label="File")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="auto")
    skip_invalid = forms.BooleanField(
        label="Skip invalid records (import the valid ones and list the others)", required=False
    )

    def __init__(self, *args, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "— new dataset —")] + [
            (d.pk, d.name) for d in datasets
        ]

    def clean(self):
        data = super().clean()
        if not data.get("dataset") and not (data.get("new_dataset") or "").strip():
            self.add_error("new_dataset", "Choose a dataset or name a new one.")
        return data
