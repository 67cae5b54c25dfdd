from django import forms

from judgeapp.accounts.models import Membership


class MemberAddForm(forms.Form):
    identifier = forms.CharField(label="Username or e-mail", max_length=254)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)
    create_user = forms.BooleanField(
        label="Create the account if there is none", required=False, initial=True
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)
