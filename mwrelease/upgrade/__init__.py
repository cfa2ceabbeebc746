"""The admin side: inspect an installation, plan, back up, stage, update.php, switch, health check, rollback."""
