"""Files a user attaches to prompts: documents whose text the model reads, and images it sees."""
