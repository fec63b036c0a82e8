"""Topics the generator builds communities around: a name, a description and the words its
posts use, so a community's name, description and posts agree with each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    words: tuple[str, ...]
    palette: tuple[str, str]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "Stoic Philosophy",
        "Daily practice from Marcus Aurelius, Seneca and Epictetus.",
        ("virtue", "reason", "calm", "duty", "fate", "mind", "courage"),
        ("#3b3b58", "#c9b79c"),
    ),
    Topic(
        "Street Photography",
        "Candid moments from city streets around the world.",
        ("light", "shadow", "street", "crowd", "frame", "moment", "city"),
        ("#222831", "#eeeeee"),
    ),
    Topic(
        "Home Baking",
        "Sourdough, pastry and everything that comes out of an oven.",
        ("dough", "crust", "oven", "butter", "flour", "rise", "bread"),
        ("#8d5524", "#f3e0c7"),
    ),
    Topic(
        "Mountain Hiking",
        "Trails, summits and the gear that gets you there.",
        ("trail", "summit", "ridge", "boots", "valley", "peak", "map"),
        ("#2d6a4f", "#d8f3dc"),
    ),
    Topic(
        "Indie Game Dev",
        "Devlogs, prototypes and postmortems from small studios.",
        ("sprite", "level", "shader", "jam", "build", "player", "engine"),
        ("#5a189a", "#e0aaff"),
    ),
    Topic(
        "Urban Gardening",
        "Balcony tomatoes, rooftop beds and compost that works.",
        ("seed", "soil", "compost", "bloom", "balcony", "harvest", "leaf"),
        ("#386641", "#f2e8cf"),
    ),
    Topic(
        "Jazz Records",
        "Vinyl finds, liner notes and the players behind them.",
        ("vinyl", "solo", "groove", "trumpet", "session", "swing", "bass"),
        ("#1d3557", "#f1faee"),
    ),
    Topic(
        "Astronomy",
        "Night-sky photos, star parties and telescope talk.",
        ("orbit", "nebula", "telescope", "comet", "galaxy", "eclipse", "star"),
        ("#03045e", "#caf0f8"),
    ),
    Topic(
        "Cycling",
        "Commutes, long rides and the bikes we love.",
        ("pedal", "climb", "chain", "route", "saddle", "wheel", "sprint"),
        ("#d00000", "#ffdd00"),
    ),
    Topic(
        "Poetry Corner",
        "Short verse, old and new, and what it means to us.",
        ("verse", "rhyme", "line", "stanza", "silence", "ink", "song"),
        ("#6d597a", "#eaac8b"),
    ),
    Topic(
        "Coffee Brewing",
        "Pour-over ratios, espresso dialing and roaster reviews.",
        ("bean", "roast", "grind", "crema", "brew", "aroma", "cup"),
        ("#432818", "#ffe6a7"),
    ),
    Topic(
        "Vintage Cars",
        "Restorations, rallies and garage finds.",
        ("chrome", "engine", "rally", "garage", "coupe", "restore", "road"),
        ("#9d0208", "#fefae0"),
    ),
    Topic(
        "Birdwatching",
        "Sightings, calls and field notes from every season.",
        ("wing", "nest", "song", "feather", "heron", "migration", "field"),
        ("#606c38", "#fefae0"),
    ),
    Topic(
        "Film Photography",
        "Grain, darkrooms and the cameras that still click.",
        ("grain", "darkroom", "lens", "roll", "exposure", "negative", "print"),
        ("#283618", "#dda15e"),
    ),
    Topic(
        "Chess Study",
        "Openings, endgames and games worth replaying.",
        ("gambit", "endgame", "knight", "rook", "opening", "mate", "tempo"),
        ("#000000", "#ffffff"),
    ),
    Topic(
        "Ocean Life",
        "Reefs, tides and the creatures beneath the waves.",
        ("reef", "tide", "coral", "whale", "current", "shell", "wave"),
        ("#0077b6", "#90e0ef"),
    ),
    Topic(
        "Minimalist Living",
        "Owning less, living more, and how to get there.",
        ("space", "less", "calm", "habit", "simple", "clear", "room"),
        ("#adb5bd", "#f8f9fa"),
    ),
    Topic(
        "Classic Literature",
        "Reading groups for the books that last.",
        ("chapter", "novel", "author", "tale", "page", "hero", "letter"),
        ("#5e503f", "#eae0d5"),
    ),
    Topic(
        "Running Club",
        "Training plans, race reports and easy Sunday miles.",
        ("pace", "mile", "race", "stride", "tempo", "finish", "trail"),
        ("#f77f00", "#fcbf49"),
    ),
    Topic(
        "Woodworking",
        "Joinery, hand tools and projects from the shop.",
        ("grain", "chisel", "joint", "plane", "oak", "bench", "saw"),
        ("#7f5539", "#ede0d4"),
    ),
)

QUOTES: tuple[tuple[str, str], ...] = (
    ("You have power over your mind, not outside events. Realize this, and you will find "
     "strength.", "Marcus Aurelius"),
    ("Luck is what happens when preparation meets opportunity.", "Seneca"),
    ("It is not what happens to you, but how you react to it that matters.", "Epictetus"),
    ("The secret of getting ahead is getting started.", "Mark Twain"),
    ("Do what you can, with what you have, where you are.", "Theodore Roosevelt"),
    ("Nothing is particularly hard if you divide it into small jobs.", "Henry Ford"),
    ("What we think, we become.", "Buddha"),
    ("Simplicity is the ultimate sophistication.", "Leonardo da Vinci"),
    ("To see a world in a grain of sand and a heaven in a wild flower.", "William Blake"),
    ("In the depth of winter, I finally learned that within me there lay an invincible "
     "summer.", "Albert Camus"),
    ("Not all those who wander are lost.", "J. R. R. Tolkien"),
    ("Look deep into nature, and then you will understand everything better.", "Albert Einstein"),
    ("The best way out is always through.", "Robert Frost"),
    ("Hope is the thing with feathers that perches in the soul.", "Emily Dickinson"),
    ("Whatever you are, be a good one.", "Abraham Lincoln"),
    ("It always seems impossible until it's done.", "Nelson Mandela"),
    ("Adopt the pace of nature: her secret is patience.", "Ralph Waldo Emerson"),
    ("The journey of a thousand miles begins with one step.", "Lao Tzu"),
    ("We are what we repeatedly do.", "Will Durant"),
    ("Well done is better than well said.", "Benjamin Franklin"),
)  # fmt: skip
