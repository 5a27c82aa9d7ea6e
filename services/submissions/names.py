"""Name data for patient matching and test identities: common US given names and surnames,
nicknames, streets and places.

The lists are common names in the style of the SSA baby-name and Census surname rankings
(typed here, most common first, not copied from either); they make generated identities look
like a state's population and give the matcher's nickname table its groups.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MALE_FIRST_NAMES: tuple[str, ...] = _words(
    """
James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel
Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy
Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott
Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron
Jose Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith
Roger Terry Gerald Harold Sean Austin Carl Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe
Bruce Gabriel Logan Albert Willie Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell
Bobby Mason Philip Louis Harry Howard Clarence Ernest Martin Craig Stanley Shawn Travis Bradley
Leonard Earl Curtis Dale Frederick Manuel Luis Carlos Marcus Oscar Victor Jimmy Johnny Antonio
Danny Tony Mario Hector Mitchell Calvin Leroy Francis Isaac Caleb Luke Owen Wyatt Hunter
Connor Liam Lucas Mateo Levi Sebastian Jayden Grayson Carter Julian Jaxon Lincoln Isaiah Landon
Cameron Evan Colton Dominic Xavier Parker Chase Cooper Miles Nolan Blake Micah Vernon Gordon
Glenn Lloyd Leon Marvin Melvin Herbert Floyd Alvin Lewis Chester Clifford Theodore Warren
Gilbert Milton Dwight Everett Franklin Lester Marshall Neil Allen Troy Derek Seth Cody Marc
Ricky Rodney Brett Lance Spencer Wesley Garrett Trevor Clayton Desmond Tristan Emmett Silas
Jasper Rowan Declan Jude Ezra Rhett Abel Amos Otis Rufus Cecil Homer Virgil Wilbur Edgar
"""
)

FEMALE_FIRST_NAMES: tuple[str, ...] = _words(
    """
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty
Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah
Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma
Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather
Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith
Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn
Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly Isabella
Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori Tiffany Rose Joanne Peggy
Norma Paula Wanda Erin Lillian Annie Valerie Jane Florence Tammy Crystal Ruby Edith Irene
Sylvia Josephine Bonnie Phyllis Ellen Leah Iris Ava Mia Harper Amelia Abby Ella Scarlett
Aria Chloe Zoey Nora Lily Eleanor Hazel Violet Aurora Savannah Audrey Brooklyn Bella Claire
Skylar Lucy Paisley Everly Caroline Genesis Naomi Elena Valentina Stella Kennedy Maya Ariana
Allison Gabriella Alyssa Brianna Jasmine Vanessa Haley Courtney Monica Erica Tara Holly Dana
Veronica Lydia Gwendolyn Rosemary Marjorie Mildred Lorraine Bernice Gladys Agnes Vera Ida
Lucille Geraldine Esther Pauline Loretta Juanita Yvonne Constance Miriam Leslie Vivian Rita
Dolores Colleen Sheila Regina Carmen Yolanda Tracy Wendy Stacy Kristen Melanie Tina Molly
Priscilla Jenna Kendra Autumn Hope Faith Brooke Whitney Caitlin Shelby Morgan Bridget Camille
"""
)

LAST_NAMES: tuple[str, ...] = _words(
    """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips
Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers
Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson
Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders
Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina
Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington
Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black
Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson
Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce
Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson
Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena
Richards Contreras Willis Carpenter Lawrence Sandoval Guerrero George Chapman Rios Estrada
Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson Santiago Maldonado Morrison
Franklin Carlson Austin Dominguez Carr Lawson Jacobs OBrien Lynch Singh Vega Bishop Montgomery
Oliver Jensen Harvey Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson Le
McCoy Garrett Burton Fuller Wang Weber Welch Rojas Lucas Marquez Fields Park Yang Little Banks
Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta Brewer May Holland Juarez
Newman Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro Figueroa Keller Avila
Wade Molina Stanley Hopkins Campos Barnett Bates Chambers Caldwell Beck Lambert Miranda Byrd
Craig Ayala Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes Shelton
Schwartz Norris Jennings Watts Duran Walters Cohen McDaniel Moran Parks Steele Vaughn Becker
Holt DeLeon Barker Terry Hale Leon Hines Benson Haynes Horton Miles Lyons Pham Graves Bush
Thornton Wolfe Warner Cabrera McKinney Mann Zimmerman Dawson Lara Fletcher Page McCarthy Love
"""
)

#: Given names and their usual short forms; one group per formal name. A name may sit in
#: several groups (Al, Chris); two names are nicknames of each other when they share one.
NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("William", "Bill", "Billy", "Will", "Willie", "Liam"),
    ("Robert", "Bob", "Bobby", "Rob", "Robbie", "Bert"),
    ("Richard", "Rick", "Ricky", "Rich", "Dick"),
    ("James", "Jim", "Jimmy", "Jamie"),
    ("John", "Johnny", "Jack", "Jon"),
    ("Joseph", "Joe", "Joey"),
    ("Michael", "Mike", "Mikey", "Mick"),
    ("Thomas", "Tom", "Tommy"),
    ("Charles", "Charlie", "Chuck", "Chaz"),
    ("Christopher", "Chris", "Kit"),
    ("Daniel", "Dan", "Danny"),
    ("Matthew", "Matt", "Matty"),
    ("Anthony", "Tony"),
    ("Donald", "Don", "Donnie"),
    ("Steven", "Steve", "Stevie"),
    ("Stephen", "Steve", "Stevie"),
    ("Andrew", "Andy", "Drew"),
    ("Joshua", "Josh"),
    ("Kenneth", "Ken", "Kenny"),
    ("Timothy", "Tim", "Timmy"),
    ("Ronald", "Ron", "Ronnie"),
    ("Edward", "Ed", "Eddie", "Ted", "Ned"),
    ("Theodore", "Ted", "Teddy", "Theo"),
    ("Jeffrey", "Jeff"),
    ("Gregory", "Greg"),
    ("Alexander", "Alex", "Xander"),
    ("Benjamin", "Ben", "Benny"),
    ("Samuel", "Sam", "Sammy"),
    ("Nicholas", "Nick", "Nicky"),
    ("Jonathan", "Jon", "Johnny"),
    ("Patrick", "Pat", "Paddy"),
    ("Raymond", "Ray"),
    ("Lawrence", "Larry"),
    ("Gerald", "Jerry"),
    ("Zachary", "Zach", "Zack"),
    ("Douglas", "Doug"),
    ("Frederick", "Fred", "Freddie"),
    ("Albert", "Al", "Bert"),
    ("Alan", "Al"),
    ("Leonard", "Leo", "Len", "Lenny"),
    ("Phillip", "Phil"),
    ("Philip", "Phil"),
    ("Eugene", "Gene"),
    ("Vincent", "Vince", "Vinny"),
    ("Francis", "Frank", "Frankie"),
    ("Elizabeth", "Liz", "Lizzie", "Beth", "Betty", "Betsy", "Eliza", "Libby"),
    ("Katherine", "Kate", "Katie", "Kathy", "Cathy", "Kat", "Kay"),
    ("Catherine", "Cathy", "Cate", "Katie", "Kate"),
    ("Kathleen", "Kathy", "Kath"),
    ("Margaret", "Maggie", "Peggy", "Meg", "Marge", "Margie"),
    ("Patricia", "Pat", "Patty", "Trish", "Tricia"),
    ("Jennifer", "Jen", "Jenny"),
    ("Rebecca", "Becky", "Becca"),
    ("Deborah", "Deb", "Debbie"),
    ("Debra", "Deb", "Debbie"),
    ("Susan", "Sue", "Susie"),
    ("Barbara", "Barb", "Barbie"),
    ("Christine", "Chris", "Chrissy", "Tina"),
    ("Christina", "Chris", "Tina"),
    ("Kimberly", "Kim"),
    ("Jessica", "Jess", "Jessie"),
    ("Samantha", "Sam", "Sammy"),
    ("Victoria", "Vicky", "Tori"),
    ("Alexandra", "Alex", "Lexi"),
    ("Abigail", "Abby", "Gail"),
    ("Dorothy", "Dot", "Dottie"),
    ("Pamela", "Pam"),
    ("Cynthia", "Cindy"),
    ("Sandra", "Sandy"),
    ("Judith", "Judy"),
    ("Theresa", "Terry", "Tess"),
    ("Teresa", "Terry", "Tess"),
    ("Frances", "Fran", "Frannie"),
    ("Virginia", "Ginny", "Ginger"),
    ("Jacqueline", "Jackie"),
    ("Stephanie", "Steph"),
    ("Melissa", "Missy", "Mel"),
    ("Gwendolyn", "Gwen"),
    ("Josephine", "Josie", "Jo"),
    ("Veronica", "Ronnie"),
    ("Valerie", "Val"),
    ("Priscilla", "Cilla"),
)

STREET_NAMES: tuple[str, ...] = _words(
    """
Main Oak Maple Pine Cedar Elm Washington Lake Hill Park Walnut Sunset Lincoln Jackson Church
Willow Spring Meadow Ridge River Highland Forest Center Adams Jefferson Madison Franklin Chestnut
Cherry Birch Hickory Poplar Sycamore Dogwood Magnolia Aspen Spruce Laurel Holly Mill Valley
Prospect Union Market Broad Front Water Bridge Grove Orchard Summit Fairview Harrison Monroe
"""
)
STREET_SUFFIXES: tuple[str, ...] = ("St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way", "Pl")

#: (city, ZIP prefix): a ZIP is the prefix and two more digits.
PLACES: tuple[tuple[str, str], ...] = (
    ("Columbus", "432"),
    ("Cleveland", "441"),
    ("Cincinnati", "452"),
    ("Toledo", "436"),
    ("Akron", "443"),
    ("Dayton", "454"),
    ("Parma", "441"),
    ("Canton", "447"),
    ("Youngstown", "445"),
    ("Lorain", "440"),
    ("Hamilton", "450"),
    ("Springfield", "455"),
    ("Kettering", "454"),
    ("Elyria", "440"),
    ("Lakewood", "441"),
    ("Cuyahoga Falls", "442"),
    ("Middletown", "450"),
    ("Newark", "430"),
    ("Mansfield", "449"),
    ("Mentor", "440"),
    ("Beavercreek", "454"),
    ("Strongsville", "441"),
    ("Dublin", "430"),
    ("Fairfield", "450"),
    ("Findlay", "458"),
    ("Warren", "444"),
    ("Lancaster", "431"),
    ("Lima", "458"),
    ("Huber Heights", "454"),
    ("Westerville", "430"),
    ("Marion", "433"),
    ("Grove City", "431"),
    ("Reynoldsburg", "430"),
    ("Delaware", "430"),
    ("Brunswick", "442"),
    ("Upper Arlington", "432"),
    ("Stow", "442"),
    ("North Olmsted", "440"),
    ("Gahanna", "432"),
    ("Westlake", "441"),
    ("Zanesville", "437"),
    ("Athens", "457"),
    ("Chillicothe", "456"),
    ("Portsmouth", "456"),
    ("Sandusky", "448"),
    ("Wooster", "446"),
    ("Ashtabula", "440"),
    ("Steubenville", "439"),
)
STATE = "OH"
