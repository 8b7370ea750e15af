from migbot.entry import run

run()
