"""Reference data for realistic contacts: countries, first and last names, e-mail domains.

Names are grouped by language so a contact in Germany is called Lukas Becker and one in Spain
Lucía García; names keep their accents (the contacts file is UTF-8) while e-mail addresses use an
ASCII slug of them, as people do.
"""

from __future__ import annotations

import unicodedata

# The store ships to these countries (ISO 3166-1 alpha-2); base share of the audience in each.
COUNTRY_CODES: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE", "IE", "AT", "CH",
)  # fmt: skip
BASE_COUNTRY_WEIGHTS: tuple[float, ...] = (
    0.29, 0.14, 0.10, 0.08, 0.07, 0.06, 0.05, 0.05, 0.05, 0.04, 0.03, 0.02, 0.02,
)  # fmt: skip
COUNTRY_LANGUAGE: dict[str, str] = {
    "US": "en", "GB": "en", "CA": "en", "AU": "en", "IE": "en",
    "DE": "de", "AT": "de", "CH": "de",
    "FR": "fr", "NL": "nl", "ES": "es", "IT": "it", "SE": "sv",
}  # fmt: skip

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
        "William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
        "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Emily", "Matthew", "Emma",
        "Anthony", "Olivia", "Mark", "Sophie", "Andrew", "Chloe", "Joshua", "Grace",
        "Oliver", "Amelia", "Jack", "Isla", "Harry", "Ava", "George", "Mia", "Noah", "Ella",
        "Liam", "Charlotte", "Ethan", "Hannah", "Ryan", "Lucy", "Connor", "Zoë", "Seán",
    ),
    "de": (
        "Lukas", "Anna", "Leon", "Lena", "Finn", "Mia", "Jonas", "Lea", "Paul", "Hannah",
        "Felix", "Laura", "Maximilian", "Sophie", "Jan", "Julia", "Tim", "Sarah", "Niklas",
        "Katharina", "Tobias", "Johanna", "Stefan", "Sabine", "Jürgen", "Heike", "Uwe",
        "Petra", "Matthias", "Claudia", "Florian", "Anja", "Sebastian", "Marie", "Moritz",
        "Greta", "Jörg", "Käthe", "Lars", "Franziska",
    ),
    "fr": (
        "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Gabriel", "Camille", "Arthur",
        "Inès", "Jules", "Sarah", "Nathan", "Jade", "Théo", "Louise", "Antoine", "Émilie",
        "Julien", "Céline", "Nicolas", "Aurélie", "Mathieu", "Élodie", "Pierre", "Margaux",
        "Thomas", "Clémence", "Maxime", "Juliette", "Baptiste", "Océane",
    ),
    "es": (
        "Hugo", "Lucía", "Martín", "Sofía", "Pablo", "María", "Daniel", "Paula", "Alejandro",
        "Valeria", "Álvaro", "Carmen", "Javier", "Laura", "Sergio", "Marta", "Carlos", "Elena",
        "Jorge", "Irene", "Adrián", "Ana", "Diego", "Cristina", "Raúl", "Nuria", "Iván",
        "Andrea",
    ),
    "it": (
        "Leonardo", "Sofia", "Francesco", "Giulia", "Alessandro", "Aurora", "Lorenzo", "Alice",
        "Mattia", "Ginevra", "Andrea", "Emma", "Gabriele", "Giorgia", "Riccardo", "Chiara",
        "Marco", "Francesca", "Luca", "Martina", "Davide", "Elisa", "Matteo", "Sara",
        "Niccolò", "Federica",
    ),
    "nl": (
        "Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Levi", "Tess", "Finn", "Sophie",
        "Jesse", "Zoë", "Bram", "Sara", "Thijs", "Anna", "Ruben", "Fleur", "Lars", "Noor",
        "Sander", "Lotte", "Joost", "Femke",
    ),
    "sv": (
        "William", "Alice", "Oscar", "Maja", "Lucas", "Elsa", "Hugo", "Astrid", "Elias",
        "Wilma", "Erik", "Freja", "Anders", "Ingrid", "Johan", "Linnéa", "Björn", "Saga",
        "Nils", "Ebba", "Måns", "Åsa",
    ),
}  # fmt: skip

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
        "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
        "Harris", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright",
        "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell",
        "Roberts", "Evans", "Turner", "Collins", "Edwards", "Stewart", "Murphy", "Kelly",
        "O'Brien", "Cooper", "Hughes", "Price", "Bennett", "Wood", "Ward", "Patel", "Nguyen",
    ),
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
        "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
        "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
    ),
    "fr": (
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
        "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
        "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
        "Dupont", "Lambert", "Bonnet", "François",
    ),
    "es": (
        "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez",
        "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
        "Muñoz", "Álvarez", "Romero", "Alonso", "Navarro", "Torres", "Domínguez",
    ),
    "it": (
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
        "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
        "Giordano", "Rizzo", "Lombardi", "Moretti",
    ),
    "nl": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
        "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
        "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
    ),
    "sv": (
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
        "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
        "Bengtsson", "Jönsson", "Lindberg", "Lindström", "Sjöberg", "Åberg",
    ),
}  # fmt: skip

# Webmail providers everyone uses, then the ones popular in one country (relative weights).
COMMON_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 40.0), ("yahoo.com", 9.0), ("outlook.com", 9.0), ("hotmail.com", 8.0),
    ("icloud.com", 10.0),
)  # fmt: skip
COUNTRY_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (("aol.com", 4.0), ("comcast.net", 3.0), ("proton.me", 1.0)),
    "GB": (("btinternet.com", 4.0), ("yahoo.co.uk", 5.0), ("sky.com", 2.0)),
    "DE": (("gmx.de", 10.0), ("web.de", 9.0), ("t-online.de", 5.0)),
    "FR": (("orange.fr", 8.0), ("free.fr", 5.0), ("laposte.net", 3.0)),
    "CA": (("shaw.ca", 3.0), ("rogers.com", 3.0)),
    "AU": (("bigpond.com", 5.0), ("optusnet.com.au", 2.0)),
    "NL": (("ziggo.nl", 5.0), ("kpnmail.nl", 3.0)),
    "ES": (("telefonica.net", 3.0), ("yahoo.es", 4.0)),
    "IT": (("libero.it", 8.0), ("virgilio.it", 4.0)),
    "SE": (("telia.com", 5.0), ("live.se", 3.0)),
    "IE": (("eircom.net", 4.0),),
    "AT": (("gmx.at", 8.0), ("aon.at", 3.0)),
    "CH": (("bluewin.ch", 8.0), ("gmx.ch", 4.0)),
}


def email_slug(name: str) -> str:
    """Lower-case ASCII letters of a name, as used in an e-mail address (Jürgen → jurgen)."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(char for char in decomposed.lower() if "a" <= char <= "z")
