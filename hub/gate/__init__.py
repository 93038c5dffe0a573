"""Gate duty (门卫): after-hours openings on the school's calendar, closing sweeps, patrols."""
