from django.core.management.base import BaseCommand, CommandError

from judgeapp.accounts.selectors import team_by_name_or_id
from judgeapp.core.errors import ApplicationError
from judgeapp.judging.models import Judge
from judgeapp.judging.services import judge_create, judge_update


class Command(BaseCommand):
    help = (
        "Create a judge (an OpenAI-compatible judge server) for TEAM; with --update, change the "
        "judge of that name if it exists. The API key is read from the environment variable named "
        "by --api-key-env when the judge runs; it is never stored by this command."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team name (or id).")
        parser.add_argument("--name", required=True)
        parser.add_argument("--protocol", choices=["genrm", "llm-judge"], required=True)
        parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000/v1")
        parser.add_argument("--model", required=True)
        parser.add_argument("--api-key-env", default="", help="Environment variable with the key.")
        parser.add_argument("--max-in-flight", type=int, default=8)
        parser.add_argument("--timeout", type=float, default=600, help="Seconds per request.")
        parser.add_argument("--temperature", type=float)
        parser.add_argument("--top-p", type=float)
        parser.add_argument("--max-tokens", type=int)
        parser.add_argument(
            "--principle-position", choices=Judge.PrinciplePosition.values, default="before"
        )
        parser.add_argument(
            "--structured-output", choices=Judge.StructuredOutput.values, default="json_schema"
        )
        parser.add_argument("--update", action="store_true", help="Change it if it exists.")

    def handle(self, *args, **o):
        team = team_by_name_or_id(o["team"])
        if team is None:
            raise CommandError(f"No team named {o['team']!r}.")
        fields = {
            "name": o["name"],
            "protocol": o["protocol"],
            "base_url": o["base_url"],
            "model": o["model"],
            "api_key_env": o["api_key_env"],
            "max_in_flight": o["max_in_flight"],
            "timeout_seconds": o["timeout"],
            "temperature": o["temperature"],
            "top_p": o["top_p"],
            "max_tokens": o["max_tokens"],
            "principle_position": o["principle_position"],
            "structured_output": o["structured_output"],
        }
        existing = Judge.objects.filter(team=team, name=o["name"].strip()).first()
        try:
            if existing is not None and o["update"]:
                judge = judge_update(judge=existing, by=None, **fields)
                verb = "Updated"
            else:
                judge = judge_create(team=team, by=None, **fields)
                verb = "Created"
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{verb} judge {judge.name!r} (id {judge.pk}) for team {team.name!r}.")
