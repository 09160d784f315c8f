"""What the views and the CLI share: decisions that are not about HTTP, testable directly."""
