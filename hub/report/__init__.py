"""Reports: the daily, weekly and monthly sensor log, as a model, a PDF in Chinese and CSV, with sign-off."""
