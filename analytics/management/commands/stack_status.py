from django.core.management.base import BaseCommand

from analytics.selectors.health import stack_parts


class Command(BaseCommand):
    help = "Print one line per part of the stack: up or down, its address and a detail."

    def handle(self, *args, **options) -> None:
        for part in stack_parts():
            state = self.style.SUCCESS("up  ") if part.up else self.style.ERROR("down")
            detail = f"  {part.detail}" if part.detail else ""
            self.stdout.write(f"{part.name:<20} {state}  {part.address}{detail}")
